# pal-audit completion for bash: the candidates come from pal-audit itself
# (PAL_AUDIT_COMPLETE=bash pal-audit -- WORDS), so they match its version.
#
# Bash splits the line at COMP_WORDBREAKS, which holds = : and @ among
# others: `--fail-on flag:st`, `--output=re` and `--as svc@con` reach this
# function as several words. The words are joined back where no blank
# separates them, pal-audit completes the whole word, and each candidate
# loses the part before the word bash will replace. Candidates are quoted
# (%q) so a path with a space stays one word.

_pal_audit_dequote() {
    local word=$1 out= i c
    case $word in
    \'*)
        word=${word#\'}
        printf '%s' "${word%\'}"
        return
        ;;
    \"*)
        word=${word#\"}
        word=${word%\"}
        ;;
    esac
    for ((i = 0; i < ${#word}; i++)); do
        c=${word:i:1}
        if [[ $c == \\ ]]; then
            ((i++))
            c=${word:i:1}
        fi
        out+=$c
    done
    printf '%s' "$out"
}

_pal_audit() {
    local cur=$2 line=${COMP_LINE:0:COMP_POINT} words=() i word blank
    for ((i = 0; i <= COMP_CWORD; i++)); do
        word=${COMP_WORDS[i]}
        ((i == COMP_CWORD)) && word=$cur
        blank=${line%%[![:space:]]*}
        line=${line:${#blank}}
        if ((i > 0 && ${#blank} == 0)); then
            words[-1]+=$word
        else
            words+=("$word")
        fi
        line=${line:${#word}}
    done
    for i in "${!words[@]}"; do
        words[i]=$(_pal_audit_dequote "${words[i]}")
    done
    local whole=${words[-1]} here
    here=$(_pal_audit_dequote "$cur")
    local cut=$((${#whole} - ${#here}))
    local found candidate list=()
    found=$(
        _CLAP_IFS=$'\013' \
            _CLAP_COMPLETE_INDEX=$((${#words[@]} - 1)) \
            @VAR@=bash \
            @BIN@ -- "${words[@]}"
    ) || return
    # Split at the separator only: no globbing of a candidate's `*`.
    [[ -n $found ]] && mapfile -d $'\013' -t list < <(printf '%s' "$found")
    COMPREPLY=()
    for candidate in "${list[@]}"; do
        [[ ${candidate:0:cut} == "${whole:0:cut}" ]] || continue
        printf -v candidate '%q' "${candidate:cut}"
        COMPREPLY+=("$candidate")
    done
    # A space after a whole value; none after a folder, `--opt=` or `flag:`,
    # which go on.
    compopt +o nospace 2>/dev/null
    if ((${#COMPREPLY[@]} == 1)) && [[ ${COMPREPLY[0]} == *[/=:] ]]; then
        compopt -o nospace 2>/dev/null
    fi
}

complete -o nospace -o bashdefault -o nosort -F _pal_audit @BIN@
