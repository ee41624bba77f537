# Shared by scripts/setup.sh and scripts/test.sh.
VENV="${TABSENSE_VENV:-.venv}"

step() { printf '\n==> %s\n' "$*"; }

ensure_venv() {
  local python="${PYTHON:-python3}"
  if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
    echo "TabSense needs Python 3.10 or newer; set PYTHON=/path/to/python3.x" >&2
    exit 1
  fi
  if [ ! -x "$VENV/bin/python" ]; then
    step "Creating the virtual environment $VENV"
    "$python" -m venv "$VENV"
  fi
}

# Debian packages the tests need: a real Chromium and its driver; speech engines from Debian
# main (never MBROLA or pico) and sox to make and measure audio; the recorded speech and sounds
# the speech data generator reads (models/speech/corpora.py names each one's package).
DEBIAN_TEST_PACKAGES=(chromium chromium-driver espeak-ng sox flite festival festlex-cmu festlex-poslex
  festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts
  asterisk-core-sounds-en-wav asterisk-core-sounds-en pocketsphinx-testdata fillets-ng-data sonic-pi-samples
  sound-theme-freedesktop)

ensure_debian_packages() {
  local wanted=("${DEBIAN_TEST_PACKAGES[@]}") missing=()
  for pkg in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if ! command -v apt-get >/dev/null; then
    echo "Please install: ${missing[*]} (no apt-get here)" >&2
    return 1
  fi
  step "Installing Debian packages: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
