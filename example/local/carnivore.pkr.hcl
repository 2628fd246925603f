# node-carnivore on a local QEMU VM: boots the primal image that
# example/local/primal.pkr.hcl made, bakes one release of the example app
# into it over SSH (app streamed as one archive, .env.json 0600, node_modules
# from the precache, nginx, a systemd service, the health check through port
# 80), shuts down, and leaves the app image as a qcow2 overlay on the primal
# image (use_backing_file: keep the primal image, and the base under it, where
# they are, or `qemu-img rebase` the output).
#
# Build the primal image with package_json = example/app/package.json, so its
# precache holds the app's dependencies and this build needs no registry. The
# e2e test TestVMChain and `make demo` run this template. By hand, after the
# primal build in example/local/primal.pkr.hcl's header:
#
#   PACKER_PLUGIN_PATH=$PWD/.packer.d/plugins .tools/bin/packer build \
#     -var primal_image=/tmp/primal/primal.qcow2 -var ssh_private_key_file=$VM_SSH_KEY \
#     -var output_directory=/tmp/carnivore example/local/carnivore.pkr.hcl
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

variable "primal_image" {
  type        = string
  description = "The primal qcow2 to build on (absolute path: the output records it as backing file)."
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
  description = "Where the image goes (must not exist yet); the image is carnivore.qcow2 in it."
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

variable "source_dir" {
  type        = string
  default     = "example/app"
  description = "The built app to upload."
}

variable "env_file" {
  type        = string
  default     = "example/env/production.json"
  sensitive   = true
  description = "The app's secrets, installed as .env.json (mode 0600, never printed)."
}

variable "npm_registry" {
  type        = string
  default     = ""
  description = "npm registry for a precache miss; empty: npm's default. From the guest, the host's loopback is 10.0.2.2."
}

variable "health_timeout" {
  type    = string
  default = "120s"
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

source "qemu" "carnivore" {
  disk_image       = true
  iso_url          = var.primal_image
  iso_checksum     = "none"
  use_backing_file = true
  skip_resize_disk = true
  format           = "qcow2"
  disk_interface   = "virtio"
  net_device       = "virtio-net"
  output_directory = var.output_directory
  vm_name          = "carnivore.qcow2"

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
  sources = ["source.qemu.carnivore"]

  provisioner "node-carnivore" {
    # instance_user defaults to the one node-primal recorded: node.
    app_name       = "example"
    environment    = "production"
    server_name    = ["example.test"]
    source         = var.source_dir
    env_file       = var.env_file
    npm_registry   = var.npm_registry
    health_path    = "/healthz"
    health_timeout = var.health_timeout
  }
}
