# Registry signatures (npm_audit_signatures = "{{.Mode}}"): npm checks every
# installed package's registry signature against the keys its registry
# publishes, with the registry, token and proxies the install used.
audit_registry=$(as_user npm config get registry) || {
  echo "registry signatures: npm config get registry failed: cannot tell which registry to ask for signing keys" >&2
  exit 1
}
audit_shown=$(printf '%s' "$audit_registry" | sed -E 's#//[^/@]*@#//***@#')
export AUDIT_REGISTRY="$audit_registry"
audit_probe=0
audit_keys=$(as_user "$node_bin" - <<'NODE_AUDIT_KEYS_JS'
{{.KeysJS}}NODE_AUDIT_KEYS_JS
) || audit_probe=$?
unset AUDIT_REGISTRY
if [ "$audit_probe" -eq 3 ]; then
{{- if eq .Mode "require"}}
  echo "registry signatures: the registry $audit_shown publishes no signing keys ($audit_keys): npm_audit_signatures = \"require\" needs one that signs its packages; set it to \"auto\" or \"off\" for this registry" >&2
  exit 1
{{- else}}
  echo "registry signatures: not checked: the registry $audit_shown publishes no signing keys ($audit_keys)"
{{- end}}
elif [ "$audit_probe" -ne 0 ]; then
  echo "registry signatures: cannot tell whether the registry $audit_shown signs its packages: ${audit_keys:-see above}" >&2
  exit 1
else
  echo "registry signatures: $audit_shown publishes $audit_keys; npm audit signatures:"
  audit_rc=0
  audit_out=$(as_user timeout 900 npm audit signatures --omit=dev --fetch-timeout=30000 --fetch-retries=2 2>&1) || audit_rc=$?
  printf '%s\n' "$audit_out" | sed '/^$/d; s/^/  /'
  if [ "$audit_rc" -ne 0 ]; then
    audit_bad=$(printf '%s\n' "$audit_out" | awk '
      /missing registry signature/ { kind = "missing signature" }
      /invalid registry signature/ { kind = "invalid signature" }
      /invalid attestation/ { kind = "invalid attestation" }
      kind != "" && /^[^ ]+@[^ ]+ \(/ { printf "%s%s (%s)", sep, $1, kind; sep = ", " }')
    if [ -n "$audit_bad" ]; then
      echo "registry signatures: npm audit signatures rejects packages from $audit_shown: $audit_bad" >&2
    elif [ "$audit_rc" -eq 124 ]; then
      echo "registry signatures: npm audit signatures did not finish within 15 minutes (registry $audit_shown)" >&2
    else
      echo "registry signatures: npm audit signatures failed (exit $audit_rc, registry $audit_shown); it looks the registry's keys up in Sigstore's public TUF repository first, which must be reachable too, through the build's proxy" >&2
    fi
    exit 1
  fi
fi
