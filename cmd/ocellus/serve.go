package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/ocellus/ocellus/internal/server"
)

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	env := func(name, def string) string {
		if v, ok := os.LookupEnv(name); ok {
			return v
		}
		return def
	}
	addr := fs.String("addr", env("OCELLUS_ADDR", "127.0.0.1:4566"), "listen address (env OCELLUS_ADDR)")
	dataDir := fs.String("data-dir", env("OCELLUS_DATA_DIR", "./data"), "directory for all persistent data (env OCELLUS_DATA_DIR)")
	region := fs.String("region", env("OCELLUS_REGION", "us-east-1"), "region named in ARNs and expected in SigV4 scopes (env OCELLUS_REGION)")
	accounts := fs.String("accounts", env("OCELLUS_ACCOUNTS", ""), "JSON accounts file [{\"AccountId\",\"AccessKeyId\",\"SecretAccessKey\"}] (env OCELLUS_ACCOUNTS);\nwithout it one account 000000000000 with keys test/test")
	database := fs.String("database", env("OCELLUS_DATABASE", ""), "metadata store and job queue: empty for SQLite files in the data dir, or a PostgreSQL URL postgres://user:password@host:port/dbname (env OCELLUS_DATABASE)")
	s3Endpoint := fs.String("s3-endpoint", env("OCELLUS_S3_ENDPOINT", ""), "external S3 URL (path-style), e.g. http://127.0.0.1:7070: users' buckets and the artifact bucket live there and Ocellus serves no S3;\nempty serves the embedded S3 endpoint on the same port (env OCELLUS_S3_ENDPOINT)")
	// The credentials' defaults are read after parsing, so that -help
	// never prints a secret from the environment.
	s3Key := fs.String("s3-access-key-id", "", "access key of the service's credentials for --s3-endpoint (env OCELLUS_S3_ACCESS_KEY_ID, else AWS_ACCESS_KEY_ID)")
	s3Secret := fs.String("s3-secret-access-key", "", "secret of the service's credentials for --s3-endpoint (env OCELLUS_S3_SECRET_ACCESS_KEY, else AWS_SECRET_ACCESS_KEY)")
	s3Region := fs.String("s3-region", "", "region to sign --s3-endpoint requests for (env OCELLUS_S3_REGION, else AWS_REGION; default --region)")
	artifactBucket := fs.String("artifact-bucket", env("OCELLUS_ARTIFACT_BUCKET", ""), "bucket of --s3-endpoint where trained models are kept, sealed; required with --s3-endpoint (env OCELLUS_ARTIFACT_BUCKET)")
	backbonePath := fs.String("backbone", env("OCELLUS_BACKBONE", ""), "ONNX backbone file models are trained on; empty for the built-in, weight-free extractor (lower accuracy) (env OCELLUS_BACKBONE)")
	detBackbonePath := fs.String("detection-backbone", env("OCELLUS_DETECTION_BACKBONE", ""), "ONNX file detection models are trained on (e.g. yolox_nano.onnx from `ocellus backbone pull yolox_nano`); empty uses a pulled yolox_nano, else --backbone (env OCELLUS_DETECTION_BACKBONE)")
	keyringFile := fs.String("keyring", env("OCELLUS_KEYRING", ""), "JSON file of model-encryption keys that KmsKeyId may name [{\"KeyId\",\"Alias\",\"Key\":base64 32 bytes}];\nan entry with KeyId \"ocellus-managed\" is the service-managed key, else OCELLUS_SERVICE_KEY (base64 of 32 bytes) gives it;\nwith neither, a key made in the data dir, which --database postgres:// refuses (every node needs the same key) (env OCELLUS_KEYRING)")
	nodeID := fs.String("node-id", env("OCELLUS_NODE_ID", ""), "name of this node in metrics and health answers; empty for the host name (env OCELLUS_NODE_ID)")
	clusterSecret := fs.String("cluster-secret", "", "shared secret the nodes of one --database postgres:// authenticate forwarded inference requests with; required there, the same on every node (env OCELLUS_CLUSTER_SECRET)")
	clusterURL := fs.String("cluster-url", env("OCELLUS_CLUSTER_URL", ""), "URL the other nodes reach this one on, e.g. http://10.0.0.5:4566; empty for http:// and the listen address (env OCELLUS_CLUSTER_URL)")
	logLevel := fs.String("log-level", env("OCELLUS_LOG_LEVEL", "info"), "debug, info, warn or error (env OCELLUS_LOG_LEVEL)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: ocellus serve [flags]\n\nRuns Rekognition Custom Labels, Lookout for Vision and S3 (unless --s3-endpoint names another) on one port.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	start := time.Now()
	firstEnv := func(flagValue string, names ...string) string {
		for _, n := range names {
			flagValue = cmp.Or(flagValue, os.Getenv(n))
		}
		return flagValue
	}
	cfg := server.Config{DataDir: *dataDir, Region: *region, Database: *database, S3Endpoint: *s3Endpoint,
		S3AccessKeyID:     firstEnv(*s3Key, "OCELLUS_S3_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID"),
		S3SecretAccessKey: firstEnv(*s3Secret, "OCELLUS_S3_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY"),
		S3Region:          firstEnv(*s3Region, "OCELLUS_S3_REGION", "AWS_REGION"),
		ArtifactBucket:    *artifactBucket, Backbone: *backbonePath, DetectionBackbone: cmp.Or(*detBackbonePath, pulledDetectionBackbone()), Keyring: *keyringFile, ServiceKey: os.Getenv("OCELLUS_SERVICE_KEY"), NodeID: *nodeID, ModerationDir: backboneDir(), Logger: log}
	if *accounts != "" {
		accs, err := server.LoadAccounts(*accounts)
		if err != nil {
			return err
		}
		cfg.Accounts = accs
	}
	// Test-only: hold jobs at chosen points (see server.TestHoldEnv).
	hold, err := server.FileHold(os.Getenv(server.TestHoldEnv), cmp.Or(*dataDir, "./data"))
	if err != nil {
		return err
	}
	cfg.Hold = hold
	// Listen first: the other nodes of a cluster are told this address.
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	cfg.ClusterSecret = firstEnv(*clusterSecret, "OCELLUS_CLUSTER_SECRET")
	cfg.ClusterURL = cmp.Or(*clusterURL, clusterURLFor(ln.Addr()))
	srv, err := server.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer srv.Close()
	if *accounts == "" {
		a := server.DefaultAccount
		fmt.Fprintf(stdout, "No --accounts file: one account %s, AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s\n", a.ID, a.AccessKeyID, a.SecretAccessKey)
	}
	fmt.Fprintf(stdout, "Ocellus listening on http://%s (region %s, data %s), ready in %s\n", ln.Addr(), *region, *dataDir, time.Since(start).Round(time.Millisecond))
	return srv.Serve(ctx, ln)
}

// clusterURLFor is the default --cluster-url: http:// and the listen
// address, with the host name for an unspecified address (0.0.0.0, ::).
func clusterURLFor(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return "http://" + a.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		if h, err := os.Hostname(); err == nil {
			host = h
		}
	}
	return "http://" + net.JoinHostPort(host, port)
}
