"""Issue #12: operators, phantoms, volumes and metrics live in the shared engine.imaging
package; the Reconstruction lab re-exports them and its old module paths alias them."""
import importlib
import subprocess
import sys

import engine.imaging as imaging
import engine.recon as recon


def test_recon_reexports_every_imaging_name_as_the_same_object():
    public = [n for n in imaging.__all__ if n != "MODULES"]
    assert set(public) <= set(recon.__all__)
    assert all(getattr(recon, n) is getattr(imaging, n) for n in public)


def test_old_recon_module_paths_are_the_imaging_modules():
    for name in imaging.MODULES:
        old = importlib.import_module(f"engine.recon.{name}")
        assert old is importlib.import_module(f"engine.imaging.{name}"), name


def test_old_module_path_works_in_a_fresh_interpreter():
    """``from engine.recon.ct import Radon`` as the first import (the parent registers the
    alias before the submodule is looked up)."""
    code = ("from engine.recon.ct import Radon\nfrom engine.recon.mri import _ShiftedNormal\n"
            "import engine.imaging.ct as c\nassert Radon is c.Radon\nprint('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr


def test_importing_imaging_loads_no_lab():
    code = ("import sys, engine.imaging\n"
            "print(' '.join(m for m in sys.modules if m.startswith('engine.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    packages = {m.split(".")[1] for m in out.stdout.split()}
    assert packages <= {"core", "imaging"}, packages
