// Command packer-plugin-node is the Packer plugin that bakes Node.js web apps
// into immutable machine images: node-primal (base image), node-carnivore
// (app image), and the node-ami and node-fingerprint data sources.
package main

import (
	"fmt"
	"os"

	"github.com/hashicorp/packer-plugin-sdk/plugin"

	"github.com/nodebake/packer-plugin-node/datasource/ami"
	"github.com/nodebake/packer-plugin-node/datasource/fingerprint"
	"github.com/nodebake/packer-plugin-node/provisioner/carnivore"
	"github.com/nodebake/packer-plugin-node/provisioner/primal"
	"github.com/nodebake/packer-plugin-node/version"
)

func main() {
	pps := plugin.NewSet()
	pps.RegisterProvisioner("primal", new(primal.Provisioner))
	pps.RegisterProvisioner("carnivore", new(carnivore.Provisioner))
	pps.RegisterDatasource("ami", new(ami.Datasource))
	pps.RegisterDatasource("fingerprint", new(fingerprint.Datasource))
	pps.SetVersion(version.PluginVersion)
	if err := pps.Run(); err != nil {
		fmt.Fprintln(os.Stderr, err.Error())
		os.Exit(1)
	}
}
