# node-primal on a local QEMU VM: boots a Debian cloud-like base image, runs
# node-primal over SSH as the image's default user, shuts down, and leaves
# the primal image as a qcow2 overlay on the base image (use_backing_file:
# keep the base where it is, or `qemu-img rebase` the output). The guest
# reaches the network through QEMU's user networking (slirp), and the host's
# loopback as 10.0.2.2: a local Node.js mirror there serves node_mirror.
#
# The base image and its SSH key come from test/vm/make-base-image.sh, which
# prints their paths; the e2e test TestVMChain and `make demo` run this
# template (with package_json = example/app/package.json, for
# example/local/carnivore.pkr.hcl on top). By hand:
#
#   eval "$(sudo test/vm/make-base-image.sh)"
#   make dev qemu-plugin
#   PACKER_PLUGIN_PATH=$PWD/.packer.d/plugins .tools/bin/packer build \
#     -var base_image=$VM_IMAGE -var ssh_private_key_file=$VM_SSH_KEY \
#     -var output_directory=/tmp/primal example/local/primal.pkr.hcl
packer {
  required_plugins {
    node = {
      source  = "github.com/nodebake/node"
      version = ">= 0.1.0"
    }
    qemu = {
      source  = "github.com/hashicorp/qemu"
      version = ">= 1.0.9"
    }
  }
}

variable "base_image" {
  type        = string
  description = "The Debian base qcow2 to build on (absolute path: the output records it as backing file)."
}

variable "ssh_private_key_file" {
  type        = string
  description = "Private SSH key of ssh_username in the base image."
}

variable "ssh_username" {
  type    = string
  default = "admin"
}

variable "output_directory" {
  type        = string
  description = "Where the image goes (must not exist yet); the image is primal.qcow2 in it."
}

variable "arch" {
  type        = string
  default     = "amd64"
  description = "The base image's architecture: amd64, or arm64 (QEMU's virt machine booted by UEFI firmware; emulated on an x86-64 host)."
  validation {
    condition     = contains(["amd64", "arm64"], var.arch)
    error_message = "The arch must be amd64 or arm64."
  }
}

variable "uefi_firmware" {
  type        = string
  default     = "/usr/share/qemu-efi-aarch64/QEMU_EFI.fd"
  description = "arm64 only: the UEFI firmware QEMU boots the image with (Debian package qemu-efi-aarch64)."
}

variable "accelerator" {
  type        = string
  default     = "tcg"
  description = "QEMU accelerator: tcg (CPU emulation, works anywhere) or kvm where KVM works."
}

variable "node_version" {
  type        = string
  default     = null
  description = "Node.js version for node-primal (exact, a major, or lts); null: the provisioner's default."
}

variable "node_mirror" {
  type        = string
  default     = null
  description = "Node.js mirror in nodejs.org's dist layout; null: the provisioner's default. From the guest, the host's loopback is 10.0.2.2."
}

variable "node_release_keys" {
  type        = list(string)
  default     = []
  description = "Armored public keys (local files) trusted to sign SHASUMS256.txt besides the Node.js release keys: the key of a mirror that re-signs, like the tests' mirror."
}

variable "ca_certificates" {
  type        = list(string)
  default     = []
  description = "Extra CA certificates (local PEM files) for the image and Node.js."
}

variable "package_json" {
  type        = string
  default     = null
  description = "The app's package.json, to precache its production dependencies on the image."
}

variable "npm_registry" {
  type        = string
  default     = null
  description = "npm registry for the precache; null: npm's default. Needed with npm_token."
}

variable "npm_token" {
  type        = string
  default     = null
  sensitive   = true
  description = "Token for npm_registry, used during the precache's install only (staged on a tmpfs, never on the image's disk)."
}

variable "serial_log" {
  type        = string
  default     = ""
  description = "File to write the VM's serial console to (boot messages), if set."
}

# How QEMU runs each architecture. arm64: the virt machine, booted by UEFI
# firmware from the image's EFI partition; under emulation (tcg), the CPU's
# pointer authentication uses QEMU's own algorithm, much cheaper to emulate
# than the architected one.
locals {
  arm64        = var.arch == "arm64"
  qemu_binary  = local.arm64 ? "qemu-system-aarch64" : "qemu-system-x86_64"
  machine_type = local.arm64 ? "virt" : "pc"
  cpu_model    = local.arm64 && var.accelerator == "tcg" ? "max,pauth-impdef=on" : "max"
  firmware     = local.arm64 ? var.uefi_firmware : ""
}

source "qemu" "primal" {
  disk_image       = true
  iso_url          = var.base_image
  iso_checksum     = "none"
  use_backing_file = true
  skip_resize_disk = true
  format           = "qcow2"
  disk_interface   = "virtio"
  net_device       = "virtio-net"
  output_directory = var.output_directory
  vm_name          = "primal.qcow2"

  qemu_binary  = local.qemu_binary
  machine_type = local.machine_type
  firmware     = local.firmware
  accelerator  = var.accelerator
  cpu_model    = local.cpu_model
  cpus         = 2
  memory       = 2048

  headless         = true
  vnc_bind_address = "127.0.0.1"
  # The builder's own SSH forward listens on every interface: replace the
  # network with one whose forward is bound to loopback only.
  qemuargs = concat([
    ["-netdev", "user,id=user.0,hostfwd=tcp:127.0.0.1:{{ .SSHHostPort }}-:22"],
    ["-device", "virtio-net,netdev=user.0"],
  ], var.serial_log == "" ? [] : [["-serial", "file:${var.serial_log}"]])

  communicator         = "ssh"
  ssh_username         = var.ssh_username
  ssh_private_key_file = var.ssh_private_key_file
  ssh_timeout          = "15m"
  shutdown_command     = "sudo -n systemctl poweroff"
  shutdown_timeout     = "5m"
}

build {
  sources = ["source.qemu.primal"]

  provisioner "node-primal" {
    # instance_user defaults to "node", a system account node-primal makes
    # (no password, no login shell, no sudo) that owns the app and the precache.
    dpkg_lock_timeout = "5m"
    node_version      = var.node_version
    node_mirror       = var.node_mirror
    node_release_keys = var.node_release_keys
    ca_certificates   = var.ca_certificates
    package_json      = var.package_json
    npm_registry      = var.npm_registry
    npm_token         = var.npm_token
  }
}
