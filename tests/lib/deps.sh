# shellcheck shell=bash
# Install the Debian packages listed in tests/lib/packages.txt that are missing.
# Sourced by tests/run and deploy/local/up.
#
#   wharf_install_deps [PACKAGES_FILE]
#
# Only runs apt-get (update + install) when something is missing.
# WHARF_SKIP_DEPS=1 skips the check entirely.

wharf_deps_list() {
    local file=$1
    sed -e 's/#.*//' -e 's/[[:space:]]\+/\n/g' "$file" | sed -e '/^$/d'
}

# Print the names of packages from FILE that are neither installed nor
# provided by an installed package.
wharf_deps_missing() {
    local file=$1
    local -A have=()
    local status pkg provides p
    while IFS=$'\t' read -r status pkg provides; do
        [[ $status == ii* ]] || continue
        have[$pkg]=1
        if [[ -n $provides ]]; then
            IFS=',' read -ra plist <<<"$provides"
            for p in "${plist[@]}"; do
                p=${p%%(*}            # drop "(= version)"
                p=${p//[[:space:]]/}
                [[ -n $p ]] && have[$p]=1
            done
        fi
    done < <(dpkg-query -W -f='${db:Status-Abbrev}\t${Package}\t${Provides}\n' 2>/dev/null)
    while read -r p; do
        [[ -n ${have[$p]:-} ]] || printf '%s\n' "$p"
    done < <(wharf_deps_list "$file")
}

wharf_install_deps() {
    local file=${1:-}
    if [[ -z $file ]]; then
        file="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/packages.txt"
    fi
    if [[ ${WHARF_SKIP_DEPS:-0} == 1 ]]; then
        echo "deps: WHARF_SKIP_DEPS=1, not checking packages"
        return 0
    fi
    if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
        echo "deps: not a Debian system (no dpkg-query/apt-get); install the packages in $file yourself" >&2
        return 0
    fi
    local total missing
    total=$(wharf_deps_list "$file" | wc -l)
    mapfile -t missing < <(wharf_deps_missing "$file")
    if ((${#missing[@]} == 0)); then
        echo "deps: all $total packages present"
        return 0
    fi
    echo "deps: missing ${#missing[@]} of $total packages: ${missing[*]}"
    local -a sudo=()
    if ((EUID != 0)); then
        if command -v sudo >/dev/null 2>&1; then
            sudo=(sudo -n)
        else
            echo "deps: not root and no sudo; install as root: apt-get install ${missing[*]}" >&2
            return 1
        fi
    fi
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q </dev/null || return 1
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        --no-install-recommends "${missing[@]}" </dev/null || return 1
    mapfile -t missing < <(wharf_deps_missing "$file")
    if ((${#missing[@]} != 0)); then
        echo "deps: still missing after apt-get install: ${missing[*]}" >&2
        return 1
    fi
    echo "deps: installed; all $total packages present"
}
