# Sourced by .ci/setup and .ci/install_check (bash).
# install_cpu_torch PIP: install the CPU build of the torch version constraints.txt pins into
# PIP's environment, chosen explicitly (torch==X+cpu) so that pip never falls back to PyPI's
# Linux wheel, which is the CUDA build (several GB). A local wheel (pip's find-links) or an
# installed copy is used as is; otherwise the wheel comes from the PyTorch CPU index (pip's
# cache keeps it for the next venv); only when that index cannot be reached does it warn and
# leave torch to the constraints step (PyPI). macOS wheels on PyPI are CPU builds already.
TORCH_CPU_INDEX="https://download.pytorch.org/whl/cpu"

install_cpu_torch() {
  local pip=$1 version
  version=$(sed -n 's/^torch==\([0-9][0-9.]*\).*/\1/p' constraints.txt)
  [ -n "$version" ] || { echo "[setup] constraints.txt pins no torch version" >&2; return 1; }
  [ "$(uname -s)" = Linux ] || return 0
  if "$pip" install -q --no-index --no-deps "torch==${version}+cpu" >/dev/null 2>&1; then
    return 0
  fi
  echo "[setup] torch ${version}+cpu from ${TORCH_CPU_INDEX}"
  "$pip" install -q --no-deps "torch==${version}+cpu" --extra-index-url "$TORCH_CPU_INDEX" \
    && return 0
  echo "[setup] WARNING: no torch ${version}+cpu (PyTorch CPU index unreachable?); the next" \
       "step installs PyPI's torch ${version}, the CUDA build on Linux (several GB)" >&2
}
