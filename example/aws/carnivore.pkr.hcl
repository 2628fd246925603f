# Stage 2 of 2: the release image ("carnivore") of an app for one environment,
# built on the newest "<app_name>-primal <timestamp>" image that
# primal.pkr.hcl made in this account and region, found by the node-ami data
# source, so no AMI ID is ever pasted.
#
#   packer init example/aws/carnivore.pkr.hcl
#   packer build -var app_name=ponyfoo -var environment=production example/aws/carnivore.pkr.hcl
#   packer build -var app_name=ponyfoo -var architecture=arm64 example/aws/carnivore.pkr.hcl
#
# architecture (x86_64 or arm64, Graviton) picks the primal image of that
# architecture, which primal.pkr.hcl built with the same -var, and a build
# instance that runs it (t3.micro or t4g.small by default).
#
# The image is named "<app_name>-carnivore-<environment> <unix timestamp>",
# as in "ponyfoo-carnivore-production 1700000000".
#
# With -var fingerprint=<the app's primal fingerprint> (ci-build.sh passes
# it), the primal image is the newest with that fingerprint instead, and the
# build fails unless its precache holds the app's dependencies.

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
  description = "The application's name, as given to primal.pkr.hcl: the primal image looked up is \"<app_name>-primal <timestamp>\"."
}

variable "ssh_username" {
  type        = string
  default     = "admin"
  description = "The login user of the primal image's distribution: admin on Debian (primal.pkr.hcl), ubuntu on Ubuntu (ubuntu-primal.pkr.hcl)."
}

variable "environment" {
  type        = string
  default     = "production"
  description = "The environment (NODE_ENV) the release image is for, such as staging or production; part of the image's name."
}

variable "server_name" {
  type        = list(string)
  default     = ["_"]
  description = "Host names nginx answers to; \"_\" for any."
}

variable "source_dir" {
  type        = string
  default     = ""
  description = "The built app to bake into the image (the seed's tmp/appserver). Defaults to example/app."
}

variable "env_file" {
  type        = string
  default     = ""
  sensitive   = true
  description = "The app's secrets, installed as .env.json (mode 0600). Defaults to example/env/production.json."
}

locals {
  # Paths in a template are relative to the directory Packer runs in;
  # path.root (this file's directory) makes the defaults work from anywhere.
  source_dir = coalesce(var.source_dir, "${path.root}/../app")
  env_file   = coalesce(var.env_file, "${path.root}/../env/production.json")
}

variable "region" {
  type        = string
  default     = "us-east-1"
  description = "The AWS region holding the primal image, where the release image is built too."
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

variable "fingerprint" {
  type        = string
  default     = ""
  description = "The primal fingerprint to build on (node-fingerprint's, as ci-build.sh computes it with primal.pkr.hcl); empty for the newest primal image."
}

# The newest "<app_name>-primal <timestamp>" image of the architecture owned
# by this account (an arm64 release is never built on an x86_64 primal),
# with the fingerprint when one is given.
data "node-ami" "primal" {
  app_name     = var.app_name
  region       = var.region
  architecture = var.architecture
  fingerprint  = var.fingerprint
}

source "amazon-ebs" "carnivore" {
  region        = var.region
  instance_type = var.instance_type != null ? var.instance_type : (var.architecture == "arm64" ? "t4g.small" : "t3.micro")
  source_ami    = data.node-ami.primal.id
  ssh_username  = var.ssh_username

  ami_name        = "${var.app_name}-carnivore-${var.environment} {{timestamp}}"
  ami_description = "${var.app_name} release image for ${var.environment}, on ${data.node-ami.primal.name}"

  tags = {
    App             = var.app_name
    Role            = "carnivore"
    Environment     = var.environment
    Primal_AMI_ID   = data.node-ami.primal.id
    Primal_AMI_Name = data.node-ami.primal.name
    Built_By_Packer = "true"
  }
  run_tags = {
    App         = var.app_name
    Role        = "carnivore-build"
    Environment = var.environment
  }
}

build {
  sources = ["source.amazon-ebs.carnivore"]

  provisioner "node-carnivore" {
    app_name    = var.app_name
    environment = var.environment
    server_name = var.server_name
    source      = local.source_dir
    env_file    = local.env_file
    health_path = "/healthz"
    # A primal image found by fingerprint must hold the app's dependencies.
    require_precache_hit = var.fingerprint != ""
  }
}
