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
  # Wait for a concurrent apt/dpkg run instead of failing on its lock.
  local lock=(-o DPkg::Lock::Timeout=900)
  apt-get "${lock[@]}" install -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || {
    apt-get "${lock[@]}" update >/dev/null
    apt-get "${lock[@]}" install -y --no-install-recommends "${missing[@]}" >/dev/null
  }
}
