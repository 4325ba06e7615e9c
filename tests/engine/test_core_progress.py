"""engine.core.relay: parts of a run map their progress onto consecutive intervals."""
from engine.core import Progress, drain, relay


def _part(n: int, value):
    for k in range(n + 1):
        yield Progress(k / n, f"step {k}")
    return value


def _whole(n_parts: int):
    out = []
    for i in range(n_parts):
        out.append((yield from relay(_part(7, i), i / n_parts, (i + 1) / n_parts, "part: ")))
    return out


def test_relay_maps_parts_onto_consecutive_intervals_and_returns_their_results():
    for n_parts in (3, 6, 7, 11):
        gen, seen = _whole(n_parts), []
        while True:
            try:
                seen.append(next(gen))
            except StopIteration as stop:
                assert stop.value == list(range(n_parts))
                break
        fractions = [p.fraction for p in seen]
        assert fractions == sorted(fractions)            # never steps back between parts
        assert fractions[0] == 0.0 and fractions[-1] == 1.0
        assert all(p.message.startswith("part: step") for p in seen)
    assert drain(_whole(2)) == [0, 1]


def test_relay_passes_partials_on_only_when_asked():
    def part():
        yield Progress(0.5, "half", {"stage": "x"})
        return 1

    dropped, kept = list(relay(part(), 0.2, 0.4)), list(relay(part(), 0.2, 0.4, partials=True))
    assert dropped[0].partial is None and kept[0].partial == {"stage": "x"}
    assert kept[0].fraction == dropped[0].fraction and abs(kept[0].fraction - 0.3) < 1e-15
    assert drain(relay(part(), 0.0, 1.0, partials=True)) == 1
