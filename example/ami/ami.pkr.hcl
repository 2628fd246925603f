# node-ami: build a release image ("carnivore") on the newest base image
# ("primal") of the app, without pasting an AMI ID.
#
#   packer init example/ami
#   packer build -var app_name=ponyfoo -var environment=production example/ami
#
# Credentials come from the usual AWS places (AWS_* variables, ~/.aws with
# AWS_PROFILE or `profile`, SSO, an instance role); region is always explicit.

packer {
  required_plugins {
    node = {
      source  = "github.com/nodebake/node"
      version = ">= 0.1.0"
    }
    amazon = {
      source  = "github.com/hashicorp/amazon"
      version = ">= 1.2.0"
    }
  }
}

variable "app_name" {
  type    = string
  default = "ponyfoo"
}

variable "environment" {
  type    = string
  default = "production"
}

variable "region" {
  type    = string
  default = env("AWS_REGION")
}

# The newest "<app_name>-primal <timestamp>" image of this account.
data "node-ami" "primal" {
  app_name     = var.app_name
  region       = var.region
  architecture = "x86_64"
}

source "amazon-ebs" "carnivore" {
  region        = var.region
  source_ami    = data.node-ami.primal.id
  instance_type = "t3.micro"
  ssh_username  = "admin"
  ami_name      = "${var.app_name}-carnivore-${var.environment} {{timestamp}}"

  tags = {
    app         = var.app_name
    environment = var.environment
    primal      = data.node-ami.primal.id
  }
}

build {
  sources = ["source.amazon-ebs.carnivore"]

  # The app's own provisioning (node-carnivore) goes here; this example shows
  # only where the base image comes from.
  provisioner "shell-local" {
    inline = [
      "echo 'primal:   ${data.node-ami.primal.id} (${data.node-ami.primal.name}, ${data.node-ami.primal.creation_date})'",
    ]
  }
}
