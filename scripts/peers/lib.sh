# Shared helpers for scripts/peers/*.sh (sourced).
# need_apt pkg[:command] ...   installs the Debian packages whose command
# (or package, when no command is given) is missing.
need_apt() {
  local missing=() spec pkg cmd
  for spec in "$@"; do
    pkg=${spec%%:*}; cmd=${spec#*:}
    if [ "$cmd" != "$spec" ]; then
      command -v "$cmd" >/dev/null 2>&1 && continue
    else
      dpkg -s "$pkg" >/dev/null 2>&1 && continue
    fi
    missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  export DEBIAN_FRONTEND=noninteractive
  # One apt run at a time (two peer scripts at once wait, not fail).
  (
    flock -w 1200 9 || true
    apt-get -o DPkg::Lock::Timeout=900 install -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || {
      apt-get -o DPkg::Lock::Timeout=900 update >/dev/null
      apt-get -o DPkg::Lock::Timeout=900 install -y --no-install-recommends "${missing[@]}" >/dev/null
    }
  ) 9>"${TMPDIR:-/tmp}/tbgw-apt.lock"
}
