dir={{q .Dir}}
if [ -x "$dir/bin/node" ] && [ "$("$dir/bin/node" --version)" = {{q (printf "v%s" .Version)}} ]; then
  echo "Node.js v{{.Version}} is already installed in $dir"
else
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
{{- if .Verify}}
  # The archive's checksum is trusted only from SHASUMS256.txt as signed by
  # a key of the keyring: the clearsigned SHASUMS256.txt.asc, or else
  # SHASUMS256.txt with its detached SHASUMS256.txt.sig.
  fetch_asc() {
  {{.FetchAsc}}}
  fetch_sig() {
  {{.FetchSig}}}
  fetch_sums() {
  {{.FetchSums}}}
  rc=0
  fetch_asc 2>"$tmp/asc.err" || rc=$?
  if [ "$rc" = 0 ]; then
    signed=SHASUMS256.txt.asc
    signed_url={{q (printf "%s.asc" .SumsURL)}}
    # gpgv writes the signed text, and only that, to --output.
    set -- --output "$tmp/signed.txt" "$tmp/SHASUMS256.txt.asc"
  elif [ "$rc" = 22 ]; then # an HTTP error: try the detached signature
    rc=0
    fetch_sig 2>"$tmp/sig.err" || rc=$?
    if [ "$rc" = 22 ]; then
      echo "the mirror serves no signature for SHASUMS256.txt:" >&2
      echo "  "{{q (printf "%s.asc" .SumsURL)}}": $(cat "$tmp/asc.err")" >&2
      echo "  "{{q (printf "%s.sig" .SumsURL)}}": $(cat "$tmp/sig.err")" >&2
      echo "  node_release_keys takes the key of a mirror that signs with its own; verify_node_signature = false skips the check" >&2
      exit 1
    elif [ "$rc" != 0 ]; then
      cat "$tmp/sig.err" >&2
      echo "cannot download "{{q (printf "%s.sig" .SumsURL)}} >&2
      exit "$rc"
    fi
    fetch_sums
    signed=SHASUMS256.txt.sig
    signed_url={{q (printf "%s.sig" .SumsURL)}}
    cp "$tmp/SHASUMS256.txt" "$tmp/signed.txt"
    set -- "$tmp/SHASUMS256.txt.sig" "$tmp/signed.txt"
  else
    cat "$tmp/asc.err" >&2
    echo "cannot download "{{q (printf "%s.asc" .SumsURL)}} >&2
    exit "$rc"
  fi
  mkdir -m 700 "$tmp/gnupg"
  rc=0
  GNUPGHOME="$tmp/gnupg" gpgv --keyring {{q .Keyring}} --status-fd 3 "$@" 3>"$tmp/status" 2>"$tmp/gpgv.err" || rc=$?
  # gpgv's status lines: "[GNUPG:] BADSIG KEYID USERID", "[GNUPG:] VALIDSIG FPR ... PRIMARY-FPR".
  gpg_status() { awk -v k="$1" '$1 == "[GNUPG:]" && $2 == k { print $3; exit }' "$tmp/status"; }
  sigs=$(grep -c '^\[GNUPG:\] NEWSIG' "$tmp/status" || true)
  signer=$(awk '$1 == "[GNUPG:]" && $2 == "VALIDSIG" { print (NF >= 12 ? $12 : $3); exit }' "$tmp/status")
  if [ -n "$(gpg_status BADSIG)" ]; then
    echo "BAD signature: $signed ($signed_url) was signed by key $(gpg_status BADSIG), but not this text: it was altered after signing" >&2
    exit 1
  elif [ -n "$(gpg_status NO_PUBKEY)" ]; then
    fpr=$(awk '$1 == "[GNUPG:]" && $2 == "ERRSIG" && NF >= 9 { print " (fingerprint " $9 ")"; exit }' "$tmp/status")
    echo "$signed ($signed_url) is signed by key $(gpg_status NO_PUBKEY)$fpr, which is not a Node.js release key nor in node_release_keys" >&2
    echo "  a mirror that re-signs releases with its own key: add that key (its armored public key file) to node_release_keys" >&2
    exit 1
  elif [ -n "$(gpg_status REVKEYSIG)" ]; then
    echo "$signed ($signed_url) is signed by key $(gpg_status REVKEYSIG), which is revoked" >&2
    exit 1
  elif [ "$rc" != 0 ] || [ "$sigs" != 1 ] || [ -z "$signer" ]; then
    echo "cannot verify $signed ($signed_url): gpgv exited $rc with $sigs signatures:" >&2
    sed 's/^/  /' "$tmp/gpgv.err" >&2
    exit 1
  fi
  uid=$(awk '$1 == "[GNUPG:]" && ($2 == "GOODSIG" || $2 == "EXPKEYSIG") { $1 = $2 = $3 = ""; sub(/^ +/, ""); print; exit }' "$tmp/status")
  echo "$signed: good signature by $signer ($uid)"
  want=$(awk -v f={{q .File}} '{ sub(/\r$/, "") } NF == 2 && ($2 == f || $2 == "*" f) { print $1 }' "$tmp/signed.txt")
  case $want in
  *[!0-9a-f]* | "")
    echo "the signed SHASUMS256.txt ($signed_url) has no single SHA-256 for "{{q .File}} >&2
    exit 1
    ;;
  esac
  if [ "${#want}" != 64 ]; then
    echo "the signed SHASUMS256.txt ($signed_url) has no single SHA-256 for "{{q .File}} >&2
    exit 1
  fi
  sum_source="SHASUMS256.txt signed by $signer"
{{- else}}
  want={{q .SHA256}}
  sum_source="SHASUMS256.txt, unsigned"
{{- end}}
  echo "downloading "{{q .URL}}
  {{.Fetch}}  got=$(sha256sum "$tmp/node.tar.xz" | cut -d' ' -f1)
  if [ "$got" != "$want" ]; then
    echo "checksum mismatch for "{{q .URL}} >&2
    echo "  expected ($sum_source): $want" >&2
    echo "  downloaded file: $got" >&2
    exit 1
  fi
  echo "sha256 $got verified against $sum_source"
  rm -rf {{q .Dir}}.partial
  mkdir -p {{q .Dir}}.partial
  tar -xJf "$tmp/node.tar.xz" -C {{q .Dir}}.partial --strip-components=1 --no-same-owner
  rm -rf "$dir"
  mv {{q .Dir}}.partial "$dir"
fi
ln -sfn "$dir" {{q .Root}}/current
for cmd in node npm npx corepack; do
  if [ -e "$dir/bin/$cmd" ]; then
    ln -sfn {{q .Root}}"/current/bin/$cmd" {{q .BinDir}}"/$cmd"
  fi
done
echo "node $("$node_bin" --version), npm $({{q .BinDir}}/npm --version)"
