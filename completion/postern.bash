# bash completion for posternctl(8) and posternd(8)      -*- shell-script -*-
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Verbs, options and what each verb's argument is are read from the
# program's own --help, so this file follows the program: FILE → policy
# files (*.conf), IFACE → network interfaces, SERVICE/NAME → service names
# from the catalog (`posternctl services`, honouring --catalog on the line).

# _postern_help PROG: the --help text, cached per program
_postern_help() {
        local var=_postern_help_${1//[^a-z]/_}
        if [[ -z ${!var-} ]]; then
                printf -v "$var" '%s' "$("$1" --help 2>/dev/null)"
        fi
        printf '%s\n' "${!var}"
}

# entries (lines at the smallest indentation) of the help text
_postern_entries() {
        _postern_help "$1" | awk '
                /^ +[^ ]/ { match($0, /^ +/); n = RLENGTH; if (!min || n < min) min = n; line[++k] = $0; ind[k] = n }
                END { for (i = 1; i <= k; i++) if (ind[i] == min) print substr(line[i], min + 1) }'
}

_postern_verbs() { _postern_entries "$1" | awk '$1 ~ /^[a-z]/ { print $1 }'; }
_postern_verb_arg() { _postern_entries "$1" | awk -v v="$2" '$1 == v && $2 ~ /^[A-Z]/ { print $2 }'; }
_postern_options() {
        _postern_entries "$1" | awk '$1 ~ /^-/ {
                for (i = 1; i <= NF; i++) { w = $i; sub(/,$/, "", w); if (w ~ /^-/) { sub(/\[.*/, "", w); print w } else break } }'
}
# the placeholder after an option in the help ("--catalog FILE" → FILE)
_postern_option_arg() {
        _postern_entries "$1" | awk -v o="$2" '$1 ~ /^-/ {
                for (i = 1; i <= NF; i++) { w = $i; sub(/,$/, "", w); if (w == o) { if ($(i + 1) ~ /^[A-Z]/) print $(i + 1); exit } } }'
}

_postern_services() { # _postern_services [--catalog FILE]
        posternctl "$@" services 2>/dev/null | awk 'NR > 1 && $1 ~ /^[a-z0-9]/ { print $1 }'
}

_postern_complete_arg() { # PROG PLACEHOLDER CUR [catalog args...]
        local prog=$1 what=$2 cur=$3
        shift 3
        case $what in
        FILE)
                _filedir conf
                ;;
        IFACE | IF=ADDR)
                local ifs
                ifs=$(command ls /sys/class/net 2>/dev/null)
                if [[ $what == IF=ADDR ]]; then
                        [[ $cur == *=* ]] && return 0
                        compopt -o nospace 2>/dev/null
                        mapfile -t COMPREPLY < <(compgen -W "$ifs" -S = -- "$cur")
                else
                        mapfile -t COMPREPLY < <(compgen -W "$ifs" -- "$cur")
                fi
                ;;
        SERVICE | NAME)
                mapfile -t COMPREPLY < <(compgen -W "$(_postern_services "$@")" -- "$cur")
                ;;
        B)
                mapfile -t COMPREPLY < <(compgen -W "nftables iptables auto" -- "$cur")
                ;;
        esac
}

_postern() {
        local cur prev words cword prog
        _init_completion -s || return
        prog=${words[0]}

        local i verb="" catalog=() arg
        for ((i = 1; i < cword; i++)); do
                case ${words[i]} in
                --catalog) catalog=(--catalog "${words[i + 1]}") ;;
                -*) ;;
                *)
                        # an option's argument is not a verb
                        arg=$(_postern_option_arg "$prog" "${words[i - 1]}")
                        if [[ -z $arg && -z $verb ]]; then verb=${words[i]}; fi
                        ;;
                esac
        done

        # the argument of an option
        if [[ $prev == -* ]]; then
                arg=$(_postern_option_arg "$prog" "$prev")
                if [[ -n $arg ]]; then
                        _postern_complete_arg "$prog" "$arg" "$cur" "${catalog[@]}"
                        return 0
                fi
        fi
        case $cur in
        --policy=* | --catalog=*)
                cur=${cur#*=}
                _filedir conf
                return 0
                ;;
        -*)
                mapfile -t COMPREPLY < <(compgen -W "$(_postern_options "$prog")" -- "$cur")
                return 0
                ;;
        esac

        if [[ -z $verb ]]; then
                mapfile -t COMPREPLY < <(compgen -W "$(_postern_verbs "$prog")" -- "$cur")
                return 0
        fi
        arg=$(_postern_verb_arg "$prog" "$verb")
        # one argument per verb: complete it only right after the verb
        if [[ -n $arg && ${words[cword - 1]} == "$verb" ]]; then
                _postern_complete_arg "$prog" "$arg" "$cur" "${catalog[@]}"
        fi
        return 0
} &&
        complete -F _postern posternctl posternd

# ex: filetype=sh
