// Command webdocs writes .web-docs/, the pages the Packer integrations
// registry shows for this plugin, from the docs packer-sdc renderdocs
// rendered into .docs/. `make generate` runs it:
//
//	go run ./internal/webdocs/cmd/webdocs -src .docs -dst .web-docs
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/nodebake/packer-plugin-node/internal/webdocs"
)

// The plugin as the registry lists it.
var integration = webdocs.Integration{
	Name: "Node.js",
	Description: "Bakes Node.js web apps into immutable machine images in two stages: " +
		"a base image (node-primal) and a per-release app image on it (node-carnivore), " +
		"with a data source (node-ami) that finds the newest base image on Amazon EC2.",
	Identifier:  "packer/nodebake/node",
	ExternalURL: "https://github.com/nodebake/packer-plugin-node",
}

func main() {
	src := flag.String("src", ".docs", "the rendered docs (packer-sdc renderdocs -dst)")
	dst := flag.String("dst", ".web-docs", "the web docs directory to write")
	flag.Parse()
	comps, err := webdocs.Compile(*src, *dst, integration)
	if err != nil {
		fmt.Fprintln(os.Stderr, "webdocs:", err)
		os.Exit(1)
	}
	fmt.Printf("webdocs: %s/README.md, %s/metadata.hcl and %d component pages\n", *dst, *dst, len(comps))
}
