#!/usr/bin/env bash
# Runs scripts/deploy's real path (not the dry run) against stand-ins of the AWS CLI and SAM CLI
# that record what they are asked: an existing parameter is kept, the missing ones are put with
# their values in a private file (never on a command line), sam builds and deploys with the
# settings' parameters. Run by scripts/test after the dry run (the zips are built by then).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
log="$work/calls.log"
mkdir "$work/bin"
cat > "$work/bin/aws" <<STUB
#!/usr/bin/env bash
echo "aws \$*" >> "$log"
case "\$1 \$2" in
  "sts get-caller-identity") echo 123456789012 ;;
  "ssm get-parameter") [[ "\$*" == *"/kustomer-api-key"* ]] && echo exists || exit 254 ;;
  "ssm put-parameter")
    for arg in "\$@"; do
      [[ "\$arg" == file://* ]] && { cat "\${arg#file://}" >> "$work/put.json"; echo >> "$work/put.json"; \
        stat -c '%a' "\${arg#file://}" >> "$work/modes"; }
    done ;;
  "cloudformation describe-stacks") echo "ApiUrl https://example" ;;
esac
STUB
cat > "$work/bin/sam" <<STUB
#!/usr/bin/env bash
echo "sam \$*" >> "$log"
[[ "\$1" == "--version" ]] && echo "SAM CLI, version 1.170.0"
exit 0
STUB
chmod +x "$work/bin/aws" "$work/bin/sam"
secrets="$work/tenant.secrets"
{
  echo "kustomer-api-key="
  for name in ccai-api-token kustomer-oauth-client-secret admin-token external-storage-access-key-id \
              external-storage-secret-access-key; do
    echo "$name=secret-value-for-$name-0123456789"
  done
  echo "ccai-events-credentials=calls:secret-calls-pw-0123456789,chats:secret-chats-pw-0123456789"
} > "$secrets"
chmod 600 "$secrets"
PATH="$work/bin:$PATH" "$root/scripts/deploy" --settings "$root/deploy/example.env" \
  --secrets "$secrets" > "$work/out.log" 2>&1 || { cat "$work/out.log"; exit 1; }

fail() { echo "test_deploy: $*" >&2; cat "$log" >&2; exit 1; }
grep -q "secret-value\|secret-calls-pw" "$log" && fail "a secret value reached a command line"
grep -q "secret-value\|secret-calls-pw" "$work/out.log" && fail "a secret value was printed"
puts=$(grep -c "ssm put-parameter" "$log")
[[ "$puts" == 6 ]] || fail "expected 6 parameters put (one kept), got $puts"
grep -q '"Name": "/ccai-kustomer-bridge/kustomer-api-key"' "$work/put.json" && fail "the existing parameter was overwritten"
grep -q '"Name": "/ccai-kustomer-bridge/kustomer-oauth-client-secret", "Value": "secret-value-for-kustomer-oauth-client-secret-0123456789", "Type": "SecureString"' "$work/put.json" \
  || fail "kustomer-oauth-client-secret was not put as a SecureString with its value"
grep -qv '^600$' "$work/modes" && fail "a parameter file was readable by others"
grep -q "^sam build --config-file samconfig.toml" "$log" || fail "sam build was not run"
grep -q "^sam deploy --config-file samconfig.toml --stack-name ccai-kustomer-bridge --region eu-west-1 --parameter-overrides .*CcaiSubdomain=acme" "$log" \
  || fail "sam deploy was not run with the settings"
echo "test_deploy: ok (6 parameters put through private files, 1 kept, sam build and deploy run)"
