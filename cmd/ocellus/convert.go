package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/ocellus/ocellus/internal/convert"
)

// converter is one `ocellus manifest from-FORMAT` command.
type converter struct {
	name, arg, about string
	// flags adds the format's own flags; read converts the argument.
	flags func(*flag.FlagSet) func(arg string) (*convert.Dataset, error)
	// lookout writes Lookout for Vision lines instead of detection lines.
	lookout bool
}

var converters = []converter{
	{name: "from-voc", arg: "DIR", about: "Pascal VOC XML below DIR (labelImg, CVAT, Label Studio, Roboflow) -> object detection",
		flags: func(fs *flag.FlagSet) func(string) (*convert.Dataset, error) {
			set := fs.String("image-set", "", "keep only the ids listed in this VOC ImageSets file (e.g. DIR/ImageSets/Main/train.txt)")
			labels := fs.String("labels", "", "comma-separated class names to keep; other classes are reported (default: all)")
			return func(dir string) (*convert.Dataset, error) {
				var opts convert.VOCOptions
				if *set != "" {
					ids, err := convert.ReadIDs(*set)
					if err != nil {
						return nil, err
					}
					opts.IDs = ids
				}
				if *labels != "" {
					opts.Labels = strings.Split(*labels, ",")
				}
				return convert.VOC(dir, opts)
			}
		}},
	{name: "from-coco", arg: "FILE", about: "a COCO detection JSON file (instances_*.json) -> object detection",
		flags: func(fs *flag.FlagSet) func(string) (*convert.Dataset, error) {
			images := fs.String("images", "", "directory the file_names are relative to (default: the JSON file's directory); refs are relative to it")
			return func(file string) (*convert.Dataset, error) { return convert.COCO(file, *images) }
		}},
	{name: "from-yolo", arg: "DIR", about: "YOLO labels below DIR (Ultralytics, Roboflow, darknet) -> object detection",
		flags: func(fs *flag.FlagSet) func(string) (*convert.Dataset, error) {
			names := fs.String("names", "", "class names file: one a line, or a data.yaml (default: DIR/data.yaml, classes.txt or obj.names)")
			return func(dir string) (*convert.Dataset, error) {
				var ns []string
				if *names != "" {
					b, err := os.ReadFile(*names)
					if err != nil {
						return nil, err
					}
					ns = convert.ParseNames(b, strings.HasSuffix(*names, ".yaml") || strings.HasSuffix(*names, ".yml"))
					if len(ns) == 0 {
						return nil, fmt.Errorf("%s: no class names found", *names)
					}
				}
				return convert.YOLO(dir, ns)
			}
		}},
	{name: "from-mvtec", arg: "DIR", lookout: true, about: "an MVTec AD folder (train/good, test/<defect>, ground_truth/<defect>) -> Lookout for Vision with anomaly masks",
		flags: func(fs *flag.FlagSet) func(string) (*convert.Dataset, error) {
			split := fs.String("split", "", "write only this split: train or test (default: both, in one manifest)")
			return func(dir string) (*convert.Dataset, error) {
				if *split != "" && *split != "train" && *split != "test" {
					return nil, fmt.Errorf("--split must be train or test, not %q", *split)
				}
				d, err := convert.MVTec(dir)
				if err != nil {
					return nil, err
				}
				return d.Split(*split), nil
			}
		}},
}

// runConvert runs one converter: problems go to stderr one a line with the
// AWS code the import would report, the usable rest to the manifest.
func (c converter) run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("manifest "+c.name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	prefix := fs.String("s3-prefix", "", "write source-refs as s3://bucket/prefix plus the path below the data set root (default: relative paths)")
	out := fs.String("out", "", "manifest file to write (default stdout)")
	attr := fs.String("attribute", "", "label attribute name (default bounding-box; anomaly-label for Lookout for Vision)")
	quiet := fs.Bool("quiet", false, "print only the summary, not each problem")
	read := c.flags(fs)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: ocellus manifest %s [flags] %s\n\nConverts %s.\n"+
			"Without --s3-prefix, refs are relative to the data set root: validate with --base ROOT, or keep the manifest in ROOT for `ocellus train`.\n"+
			"Annotations the import would refuse are reported on stderr, one a line, with the AWS validation code, and left out.\n\nFlags:\n", c.name, c.arg, c.about)
		fs.PrintDefaults()
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return fmt.Errorf("manifest %s needs one %s", c.name, c.arg)
	}
	if *prefix != "" {
		if err := convert.CheckS3Prefix(*prefix); err != nil {
			return fmt.Errorf("--s3-prefix: %w", err)
		}
	}
	d, err := read(pos[0])
	if err != nil {
		return err
	}
	if !*quiet {
		for _, p := range d.Problems {
			fmt.Fprintln(stderr, p)
		}
	}
	if len(d.Records) == 0 {
		return fmt.Errorf("%s: no usable images found (%d problems)", pos[0], len(d.Problems))
	}
	var w io.Writer = stdout
	var f *os.File
	if *out != "" {
		if f, err = os.Create(*out); err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	bw := bufio.NewWriter(w)
	opts := convert.WriteOptions{S3Prefix: *prefix, Attribute: *attr}
	var n int
	if c.lookout {
		n, err = d.WriteLookout(bw, opts)
	} else {
		n, err = d.WriteDetection(bw, opts)
	}
	if err == nil {
		err = bw.Flush()
	}
	if err == nil && f != nil {
		err = f.Close()
	}
	if err != nil {
		return err
	}
	if c.lookout {
		anomalous, masks := 0, 0
		for _, r := range d.Records {
			if r.Anomalous {
				anomalous++
			}
			if r.Mask != "" {
				masks++
			}
		}
		fmt.Fprintf(stderr, "%d images (%d normal, %d anomalous, %d with masks), %d problems\n", n, n-anomalous, anomalous, masks, len(d.Problems))
	} else {
		fmt.Fprintf(stderr, "%d images, %d boxes, %d labels, %d problems\n", n, d.Boxes(), len(d.Labels()), len(d.Problems))
	}
	return ctx.Err()
}

// parseInterleaved parses flags that may come before and after the
// positional arguments (`from-voc DIR --out x.manifest`).
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}
