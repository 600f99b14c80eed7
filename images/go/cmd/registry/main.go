// Command registry is the CNCF distribution registry (github.com/distribution/distribution/v3) linked with only
// what the local registry uses: the filesystem storage driver, no authentication plugins, no pull-through
// proxy, no cloud storage drivers. Upstream's cmd/registry links every storage driver (S3, Azure, GCS) and
// middleware; leaving them out is the documented way to build a smaller registry and cuts the cold build.
//
// scripts/registry runs it as `registry serve <config.yml>` on 127.0.0.1 only.
package main

import (
	"os"

	"github.com/distribution/distribution/v3/registry"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
)

func main() {
	if err := registry.RootCmd.Execute(); err != nil {
		os.Exit(1)
	}
}
