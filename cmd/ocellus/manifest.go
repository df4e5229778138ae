package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ocellus/ocellus/internal/manifest"
)

// runManifest dispatches the manifest tools: from-folders writes a
// classification manifest from a folder-per-label layout (as the AWS
// console's import does); from-voc, from-coco, from-yolo and from-mvtec
// convert other tools' annotations (convert.go); validate checks a
// manifest as CreateDataset would.
func runManifest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	sub := map[string]func(context.Context, []string, io.Writer, io.Writer) error{
		"from-folders": runFromFolders,
		"validate":     runManifestValidate,
	}
	for _, c := range converters {
		sub[c.name] = c.run
	}
	if len(args) == 0 || sub[args[0]] == nil {
		fmt.Fprintln(stderr, "Usage: ocellus manifest <command> [flags]\n\nCommands:\n"+
			"  from-folders  write a classification manifest from a folder-per-label layout (disk or S3)\n"+
			"  from-voc      write an object-detection manifest from Pascal VOC XML (DIR)\n"+
			"  from-coco     write an object-detection manifest from a COCO JSON file (FILE)\n"+
			"  from-yolo     write an object-detection manifest from YOLO labels (DIR)\n"+
			"  from-mvtec    write a Lookout for Vision manifest with anomaly masks from an MVTec AD folder (DIR)\n"+
			"  validate      check a manifest with the Custom Labels / Lookout for Vision rules; prints the summary")
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			return nil
		}
		return errors.New("unknown or missing manifest command")
	}
	return sub[args[0]](ctx, args[1:], stdout, stderr)
}

func runFromFolders(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fset := flag.NewFlagSet("manifest from-folders", flag.ContinueOnError)
	fset.SetOutput(stderr)
	dir := fset.String("dir", "", "local root folder: DIR/<label>/<image>")
	uriPrefix := fset.String("s3-uri-prefix", "", "with --dir: write source-refs as this s3://bucket/prefix plus the path below DIR (default: absolute paths)")
	bucket := fset.String("bucket", "", "S3 bucket holding <prefix>/<label>/<image>")
	prefix := fset.String("prefix", "", "with --bucket: key prefix of the label folders")
	endpoint := fset.String("endpoint", "", "with --bucket: S3 endpoint URL (e.g. the Ocellus server); path-style addressing")
	region := fset.String("region", "", "with --bucket: region (default $AWS_REGION, else us-east-1)")
	attr := fset.String("attribute", manifest.DefaultAttribute, "label attribute name in the lines")
	out := fset.String("out", "", "manifest file to write (default stdout)")
	fset.Usage = func() {
		fmt.Fprintln(stderr, "Usage: ocellus manifest from-folders (--dir DIR [--s3-uri-prefix s3://bucket/prefix] | --bucket B --prefix P --endpoint URL [--region R]) [--out FILE]\n\n"+
			"Writes one image-classification line per JPEG/PNG, labelled with its immediate parent folder.\nS3 credentials come from the usual AWS environment variables and files.\n\nFlags:")
		fset.PrintDefaults()
	}
	if err := fset.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if (*dir == "") == (*bucket == "") {
		return errors.New("give exactly one of --dir and --bucket")
	}
	if *uriPrefix != "" && (*dir == "" || !strings.HasPrefix(*uriPrefix, "s3://") || len(strings.TrimPrefix(*uriPrefix, "s3://")) == 0) {
		return errors.New("--s3-uri-prefix needs --dir and an s3://bucket[/prefix] value")
	}

	var w io.Writer = stdout
	var f *os.File
	if *out != "" {
		var err error
		if f, err = os.Create(*out); err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	bw := bufio.NewWriter(w)
	now := time.Now()
	n := 0
	labels := map[string]int{}
	emit := func(ref, label string) error {
		n++
		labels[label]++
		bw.Write(manifest.ClassificationLine(ref, *attr, label, now))
		return bw.WriteByte('\n')
	}
	var err error
	if *dir != "" {
		err = foldersOnDisk(*dir, *uriPrefix, emit)
	} else {
		err = foldersInS3(ctx, *bucket, *prefix, *endpoint, *region, emit)
	}
	if err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if f != nil {
		if err := f.Close(); err != nil {
			return err
		}
	}
	if n == 0 {
		return errors.New("no JPEG or PNG images in label folders found")
	}
	fmt.Fprintf(stderr, "%d images, %d labels\n", n, len(labels))
	return nil
}

// foldersOnDisk walks root in lexical order.
func foldersOnDisk(root, uriPrefix string, emit func(ref, label string) error) error {
	abs, err := filepath.Abs(root)
	if err != nil {
		return err
	}
	return filepath.WalkDir(abs, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != abs && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(abs, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		label, ok := manifest.FolderLabel(rel)
		if !ok {
			return nil
		}
		ref := p
		if uriPrefix != "" {
			ref = strings.TrimSuffix(uriPrefix, "/") + "/" + rel
		}
		return emit(ref, label)
	})
}

// foldersInS3 lists bucket/prefix with path-style addressing, so that it
// works against Ocellus's embedded S3 and other local endpoints.
func foldersInS3(ctx context.Context, bucket, prefix, endpoint, region string, emit func(ref, label string) error) error {
	var opts []func(*config.LoadOptions) error
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return err
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.UsePathStyle = true
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	})
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	pages := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("listing s3://%s/%s: %w", bucket, prefix, err)
		}
		for _, o := range page.Contents {
			key := aws.ToString(o.Key)
			label, ok := manifest.FolderLabel(strings.TrimPrefix(key, prefix))
			if !ok {
				continue
			}
			if err := emit("s3://"+bucket+"/"+key, label); err != nil {
				return err
			}
		}
	}
	return nil
}

func runManifestValidate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fset := flag.NewFlagSet("manifest validate", flag.ContinueOnError)
	fset.SetOutput(stderr)
	root := fset.String("images-root", "", "directory holding bucket/key for s3:// source-refs; without it images are not checked")
	base := fset.String("base", "", "resolve relative source-refs against this directory or s3:// URI")
	l4v := fset.Bool("lookout", false, "apply Lookout for Vision rules (normal/anomaly, masks)")
	training := fset.Bool("training", false, "apply the training-dataset label minimums")
	entries := fset.Bool("entries", false, "print every line as ListDatasetEntries returns it, before the summary")
	fset.Usage = func() {
		fmt.Fprintln(stderr, "Usage: ocellus manifest validate [flags] FILE\n\nPrints the manifest summary JSON; exits 1 when the dataset would fail.\n\nFlags:")
		fset.PrintDefaults()
	}
	if err := fset.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fset.NArg() != 1 {
		fset.Usage()
		return errors.New("one manifest file is required")
	}
	f, err := os.Open(fset.Arg(0))
	if err != nil {
		return err
	}
	defer f.Close()
	opts := manifest.Options{ParseOptions: manifest.ParseOptions{Base: *base, AllowFilePaths: true}, Training: *training}
	if *l4v {
		opts.Service = manifest.LookoutForVision
	}
	if *root != "" || *base != "" {
		opts.Prober = manifest.FSProber{Root: *root}
	}
	if st, err := f.Stat(); err == nil {
		opts.Size = st.Size()
	}
	bw := bufio.NewWriter(stdout)
	defer bw.Flush()
	s, err := manifest.Validate(ctx, f, opts, func(e *manifest.Entry) error {
		if *entries {
			bw.Write(e.JSONLine())
			return bw.WriteByte('\n')
		}
		return nil
	})
	if err != nil {
		return err
	}
	js, err := s.MarshalManifestSummary(nil, nil)
	if err != nil {
		return err
	}
	bw.Write(js)
	bw.WriteByte('\n')
	if s.Failed() {
		return fmt.Errorf("%s: %s", s.Failure.Code, s.Failure.Message)
	}
	return nil
}
