#!/bin/sh
# A sample install script for the quick start: copy it to /opt/shop/install on each server (root-owned, mode 755)
# and allow the deploy user exactly this command in sudoers:
#     deploy ALL=(root) NOPASSWD: /opt/shop/install
# It reads one release archive (.tar.gz with a VERSION file at its top) on standard input, unpacks it into
# /opt/shop/releases/VERSION, points /opt/shop/current at it and restarts the service. The workflow calls it as
#     ssh "deploy@$DEPLOY_HOST" 'sudo /opt/shop/install' < "$RUNNER_TEMP/shop.tar.gz"
# and, for blue-green or canary with two ports per server (one systemd unit shop@blue, one shop@green), as
#     (printf '%s\n' "$DEPLOY_POOL"; cat "$RUNNER_TEMP/shop.tar.gz") | ssh "deploy@$DEPLOY_HOST" 'sudo /opt/shop/install --slot'
# where the first line of standard input names the pool. No value ever reaches the remote command line.
# Safe to run again with the same archive. SHOP_ROOT and SHOP_RESTART exist for tests; sudo resets both.
set -eu
root=${SHOP_ROOT:-/opt/shop}
restart=${SHOP_RESTART:-systemctl restart}

slot=
if [ "${1:-}" = --slot ]; then
  IFS= read -r slot
  case "$slot" in
    '' | *[!a-z0-9-]*) echo "install: refusing slot '$slot' (lower-case letters, digits and -)" >&2; exit 2 ;;
  esac
fi

mkdir -p "$root/releases"
incoming=$(mktemp -d "$root/releases/.incoming.XXXXXX")
trap 'rm -rf "$incoming"' EXIT
tar -xzf - -C "$incoming"
version=$(head -n 1 "$incoming/VERSION" 2>/dev/null || true)
case "$version" in
  '' | [!A-Za-z0-9]* | *[!A-Za-z0-9._+-]*)
    echo "install: refusing version '$version' (letters, digits, '.', '_', '-', '+'; first a letter or digit)" >&2
    exit 2
    ;;
esac

release="$root/releases/$version"
if [ ! -d "$release" ]; then mv "$incoming" "$release"; fi
link="$root/current${slot:+-$slot}"
ln -sfn "$release" "$link.new"
mv -T "$link.new" "$link"
$restart "shop${slot:+@$slot}"
echo "install: $version is live in $link"

# Keep the five newest releases (and whatever a slot still points at).
ls -1dt "$root"/releases/*/ | tail -n +6 | while IFS= read -r old; do
  old=${old%/}
  in_use=false
  for current in "$root"/current*; do
    [ "$(readlink "$current")" = "$old" ] && in_use=true
  done
  [ "$in_use" = true ] || rm -rf "$old"
done
