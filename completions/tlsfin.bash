# bash completion for tlsfin.  Options come from `tlsfin CMD --help` at
# completion time, so they can never drift from the program.
_tlsfin() {
  local cur prev cmd words cword
  _init_completion 2>/dev/null || {
    cur=${COMP_WORDS[COMP_CWORD]}; prev=${COMP_WORDS[COMP_CWORD-1]}
  }
  cmd=${COMP_WORDS[1]}
  if [[ $COMP_CWORD -eq 1 ]]; then
    COMPREPLY=($(compgen -W "analyze watch probe --help --version" -- "$cur"))
    return
  fi
  local help
  help=$("${COMP_WORDS[0]}" "$cmd" --help 2>/dev/null)
  case $prev in
    --format)
      COMPREPLY=($(compgen -W "$(sed -n 's/.*--format=\([a-z|]*\).*/\1/p' <<<"$help" | head -1 | tr '|' ' ')" -- "$cur"))
      return ;;
    --fail-on|--record-verdicts)
      COMPREPLY=($(compgen -W "$(sed -n 's/^verdicts: //p' <<<"$("${COMP_WORDS[0]}" analyze --help 2>/dev/null)")" -- "${cur##*,}"))
      return ;;
    --kernel) COMPREPLY=($(compgen -W "auto on off" -- "$cur")); return ;;
    --color) COMPREPLY=($(compgen -W "auto always never" -- "$cur")); return ;;
    -i|--interface)
      COMPREPLY=($(compgen -W "any $(ls /sys/class/net 2>/dev/null)" -- "$cur")); return ;;
    -r|--keylog|--record|--annotate) COMPREPLY=($(compgen -f -- "$cur")); return ;;
  esac
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$(grep -oE -- '(^|[ ,])--?[a-zA-Z][a-z-]*' <<<"$help" | tr -d ' ,' | sort -u)" -- "${cur%%=*}"))
    return
  fi
  [[ $cmd == analyze ]] && COMPREPLY=($(compgen -f -- "$cur"))
}
complete -F _tlsfin tlsfin
