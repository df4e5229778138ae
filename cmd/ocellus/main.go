// Command ocellus is the self-hosted Rekognition Custom Labels and Lookout
// for Vision service. `ocellus serve` runs the service; the other
// subcommands work on models and manifests without a server.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// command is one subcommand: it parses its own flags from args.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

var commands = map[string]command{
	"serve":    {"run the service (Rekognition, Lookout for Vision and S3 on one port)", runServe},
	"train":    {"train a model from Ground Truth manifests, without a server", runTrain},
	"predict":  {"run a model on images; prints DetectCustomLabels (or, for an anomaly model, DetectAnomalies) JSON lines", runPredict},
	"export":   {"write a model as one ONNX graph (backbone + head)", runExport},
	"backbone": {"list or pull known backbones (pinned SHA-256)", runBackbone},
	"manifest": {"write (from-folders, from-voc/coco/yolo/mvtec) or check (validate) Ground Truth manifests", runManifest},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "ocellus: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	if err := c.run(ctx, args[1:], stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "ocellus %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Ocellus: self-hosted Rekognition Custom Labels and Lookout for Vision.")
	fmt.Fprintln(w, "\nUsage: ocellus <command> [flags]   (ocellus <command> --help for its flags)")
	fmt.Fprintln(w, "\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
}
