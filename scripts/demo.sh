#!/bin/bash
# From a fresh Debian 12 machine (as root): install what is needed, build, install
# vpcd and vpcctl, start vpcd, apply the two-subnet lab and show it working.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
cmake --install build >/dev/null
echo "installed: $(command -v vpcd) $(command -v vpcctl)"

if vpcctl status >/dev/null 2>&1; then
	echo "vpcd is already running"
else
	vpcd --daemon --log /var/log/vpcd.log
	echo "vpcd started (log: /var/log/vpcd.log)"
fi

set -x
vpcctl apply -f examples/lab.json
vpcctl show lab
vpcctl exec lab/web1 -- ping -c 2 -W 1 10.0.1.5     # same subnet
vpcctl exec lab/web1 -- ping -c 2 -W 1 10.0.2.10    # across subnets, through the VPC router
{ set +x; } 2>/dev/null
cat <<'MSG'

The lab is up. Try:
  vpcctl exec lab/db1 -- ip route
  vpcctl exec lab/web2 -- ping 10.0.2.10
  vpcctl destroy lab            # tear it down, leaving nothing behind
  kill $(cat /run/vpcd.lock)    # stop vpcd (the VPCs keep running without it)
MSG
