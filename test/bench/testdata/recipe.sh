#!/bin/sh
# The hand-written recipe node-primal replaces: the article's primal steps
# (test/bench's baseline), as one plain script for Packer's shell
# provisioner, run as the login user with sudo, the way the article ran it.
# Only what the sandbox cannot do is changed: nvm's installer is on GitHub,
# so Node.js comes as the same official tarball node-primal installs, from
# the same mirror ($NODE_URL); apt-key and the removal of apt-listchanges
# (not installed) are left out. Every step is timed, for the per-step table.
set -eu
step() { now=$(date +%s.%N); [ -z "${name:-}" ] || awk -v a="$start" -v b="$now" -v n="$name" 'BEGIN { printf "recipe-step: %s: %.1f\n", n, b - a }'; name=$1; start=$now; }

step "apt-get update"
echo "packer: updating aptitude"
sudo apt-get update

step "install base packages (distro defaults)"
sudo DEBIAN_FRONTEND=noninteractive apt-get install git make g++ graphicsmagick curl -y

step "install nginx"
echo "packer: nginx"
sudo mkdir -p /var/log/nginx
sudo chown "$INSTANCE_USER" /var/log/nginx
sudo chmod -R 755 /var/log/nginx
sudo DEBIAN_FRONTEND=noninteractive apt-get install nginx -y

step "install Node.js (tarball)"
echo "packer: nodejs"
curl -fsSL "$NODE_URL" | sudo tar -xJ -C /usr/local --strip-components=1
node --version

step "sysctl and port redirect"
echo "packer: tweaking tcp"
sudo sysctl -w net.ipv4.tcp_slow_start_after_idle=0
echo "packer: ipv4 forwarding"
cp /etc/sysctl.conf /tmp/
echo "net.ipv4.ip_forward = 1" >> /tmp/sysctl.conf
sudo cp /tmp/sysctl.conf /etc/
sudo sysctl -p /etc/sysctl.conf
echo "packer: forward port 80 to 8080"
sudo iptables -A PREROUTING -t nat -i eth0 -p tcp --dport 80 -j REDIRECT --to-port 8080
sudo iptables -A INPUT -p tcp -m tcp --sport 80 -j ACCEPT
sudo iptables -A OUTPUT -p tcp -m tcp --dport 80 -j ACCEPT
sudo iptables-save > /tmp/iptables-store.conf
sudo mv /tmp/iptables-store.conf /etc/iptables-store.conf
echo "packer: remember port forwarding rule across reboots"
echo "#!/bin/sh" > /tmp/iptables-ifupd
echo "iptables-restore < /etc/iptables-store.conf" >> /tmp/iptables-ifupd
chmod +x /tmp/iptables-ifupd
sudo mkdir -p /etc/network/if-up.d
sudo mv /tmp/iptables-ifupd /etc/network/if-up.d/iptables

step "precache dependencies (npm install --production)"
echo "packer: precaching server dependencies"
mkdir -p ~/app/precache
cp /tmp/app/package.json /tmp/app/package-lock.json ~/app/precache/
npm install --prefix ~/app/precache --production

step "nginx at boot"
echo "packer: installing nginx at system startup"
sudo update-rc.d nginx defaults
step end
