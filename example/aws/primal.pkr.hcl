# Stage 1 of 2: the base image ("primal") of an app on Amazon EC2, built on
# the official Debian 13 (trixie) AMI, or Canonical's Ubuntu 24.04 LTS
# (noble) one with -var distribution=ubuntu: packages, nginx, Node.js, the
# port 80 -> 8080 redirect and the app's production dependencies precached.
# Build it when the base changes (Node.js major, packages, dependencies), not
# on every release; carnivore.pkr.hcl builds each release on the newest one.
#
#   packer init example/aws/primal.pkr.hcl
#   packer build -var app_name=ponyfoo example/aws/primal.pkr.hcl
#   packer build -var app_name=ponyfoo -var distribution=ubuntu example/aws/primal.pkr.hcl
#   packer build -var app_name=ponyfoo -var architecture=arm64 example/aws/primal.pkr.hcl
#
# architecture = "arm64" builds for Graviton: the distribution's arm64 AMI, a
# t4g build instance, Node.js's linux-arm64 release (node-primal picks the
# release for the machine it runs on); build its releases with
# carnivore.pkr.hcl -var architecture=arm64, whose node-ami lookup then finds
# only arm64 primal images. The arm64 path is proven on an emulated arm64
# Debian VM (see the README's support matrix).
#
# On Ubuntu node-primal tells needrestart not to prompt, checks that the
# universe component (graphicsmagick) is enabled, as it is on Canonical's
# cloud images, and puts the redirect into ufw's rules when ufw is enabled;
# build the releases with carnivore.pkr.hcl -var ssh_username=ubuntu. Ubuntu
# is covered by golden plans, not by booted machines (see docs/README.md).
#
# The image is named "<app_name>-primal <unix timestamp>", as in
# "ponyfoo-primal 1700000000", and tagged with its fingerprint
# (node:fingerprint and its parts, from the node-fingerprint data source), so
# carnivore.pkr.hcl -var fingerprint=... finds the primal image that matches
# the app. ci-build.sh builds this image only when none matches:
#
#   packer build -only=fingerprint.null.fingerprint example/aws/primal.pkr.hcl
#
# prints the fingerprint without starting any machine. Credentials come from the usual AWS places
# (AWS_* variables, ~/.aws with AWS_PROFILE, SSO, an instance role).

packer {
  required_version = ">= 1.9.4"
  required_plugins {
    amazon = {
      source  = "github.com/hashicorp/amazon"
      version = ">= 1.8.0"
    }
    node = {
      source  = "github.com/nodebake/node"
      version = ">= 0.1.0"
    }
  }
}

variable "app_name" {
  type        = string
  default     = "ponyfoo"
  description = "The application's name: the image is named \"<app_name>-primal <timestamp>\" and tagged App = app_name."
}

variable "region" {
  type        = string
  default     = "us-east-1"
  description = "The AWS region to build the image in (and where carnivore.pkr.hcl looks for it)."
}

variable "distribution" {
  type        = string
  default     = "debian"
  description = "The base AMI: debian (Debian 13, Debian's own account) or ubuntu (Ubuntu 24.04 LTS, Canonical's account)."
  validation {
    condition     = contains(["debian", "ubuntu"], var.distribution)
    error_message = "The distribution must be debian or ubuntu."
  }
}

variable "architecture" {
  type        = string
  default     = "x86_64"
  description = "The CPU architecture, as EC2 names it: x86_64, or arm64 for Graviton instances (a t4g by default; c7g, m7g ... as instance_type)."
  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "The architecture must be x86_64 or arm64."
  }
}

variable "instance_type" {
  type        = string
  default     = null
  description = "The EC2 instance type of the temporary build instance; null: t3.micro, or t4g.small for arm64 (Graviton)."
}

variable "node_version" {
  type        = string
  default     = "22"
  description = "The Node.js version node-primal installs: exact (22.12.0), a major (22: its newest release) or lts."
}

variable "node_mirror" {
  type        = string
  default     = "https://nodejs.org/dist"
  description = "A mirror in nodejs.org's dist layout, where node_version is resolved (on this host, for the fingerprint) and Node.js downloaded."
}

variable "package_json" {
  type        = string
  default     = null
  description = "The app's package.json, whose production dependencies are precached on the image (package-lock.json next to it is used). Defaults to the example app's, example/app/package.json."
}

locals {
  # Paths in a template are relative to the directory Packer runs in;
  # path.root (this file's directory) makes the default work from anywhere.
  package_json = coalesce(var.package_json, "${path.root}/../app/package.json")
  # The newest official AMI of each for the architecture (Debian and Ubuntu
  # name it amd64 or arm64), from its publisher's own account, and the user
  # its cloud images log in as (with passwordless sudo).
  arch = var.architecture == "arm64" ? "arm64" : "amd64"
  base = {
    debian = { owner = "136693071363", name = "debian-13-${local.arch}-*", ssh_username = "admin" }
    ubuntu = { owner = "099720109477", name = "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-${local.arch}-server-*", ssh_username = "ubuntu" }
  }[var.distribution]
  instance_type = var.instance_type != null ? var.instance_type : (var.architecture == "arm64" ? "t4g.small" : "t3.micro")
}

# The fingerprint of what node-primal puts on the image, computed here from
# the same settings node-primal gets (node_version is resolved to the exact
# release through node_mirror; node-primal records the fingerprint of what
# it installed in its manifest and prints it, to compare).
# (Packer before 1.12 evaluates data sources before locals: no local here.)
data "node-fingerprint" "app" {
  architecture = var.architecture
  node_version = var.node_version
  node_mirror  = var.node_mirror
  package_json = coalesce(var.package_json, "${path.root}/../app/package.json")
}

# The base AMI's filter is resolved when the build starts, not by
# `packer validate`.
source "amazon-ebs" "primal" {
  region        = var.region
  instance_type = local.instance_type

  source_ami_filter {
    owners      = [local.base.owner]
    most_recent = true
    filters = {
      name                = local.base.name
      architecture        = var.architecture
      virtualization-type = "hvm"
      root-device-type    = "ebs"
    }
  }

  ssh_username = local.base.ssh_username

  # {{timestamp}} is the build's start as Unix seconds: AMI names must be
  # unique, and the node-ami data source picks the newest by creation date.
  ami_name        = "${var.app_name}-primal {{timestamp}}"
  ami_description = "${var.app_name} base image (node-primal, Node.js ${data.node-fingerprint.app.node_version}) on {{ .SourceAMIName }}"

  tags = merge({
    App             = var.app_name
    Role            = "primal"
    Base_AMI_ID     = "{{ .SourceAMI }}"
    Base_AMI_Name   = "{{ .SourceAMIName }}"
    Node_Version    = data.node-fingerprint.app.node_version
    Architecture    = var.architecture
    Built_By_Packer = "true"
  }, data.node-fingerprint.app.tags)
  run_tags = {
    App  = var.app_name
    Role = "primal-build"
  }
}

build {
  sources = ["source.amazon-ebs.primal"]

  provisioner "node-primal" {
    # instance_user defaults to "node", a system account node-primal makes
    # (no password, no login shell, no sudo), which owns the precache in
    # /home/node/app/precache; "admin" would give the app admin's sudo.
    # ci-build.sh passes the exact release the fingerprint names, so
    # node-primal installs that very one. (A data source's output cannot go
    # here: `packer validate` would give node-primal a placeholder.)
    node_version = var.node_version
    node_mirror  = var.node_mirror
    package_json = local.package_json
    # First boot runs cloud-init and unattended-upgrades, which hold the
    # dpkg lock for a while.
    dpkg_lock_timeout = "10m"
  }
}

# The fingerprint alone, with no machine started: ci-build.sh runs
# `packer build -only=fingerprint.null.fingerprint` to learn it.
source "null" "fingerprint" {
  communicator = "none"
}

build {
  name    = "fingerprint"
  sources = ["source.null.fingerprint"]

  provisioner "shell-local" {
    inline = ["echo 'node-fingerprint: fingerprint=${data.node-fingerprint.app.fingerprint} node_version=${data.node-fingerprint.app.node_version}'"]
  }
}
