package awsproto

import (
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
)

func TestStoresData(t *testing.T) {
	for op, want := range map[string]bool{"CreateProject": true, "UpdateDatasetEntries": true, "PutProjectPolicy": true, "TagResource": true,
		"CopyProjectVersion": true, "DistributeDatasetEntries": true, "DeleteProject": false, "UntagResource": false,
		"DescribeProjects": false, "DetectCustomLabels": false, "StartModel": false, "StopProjectVersion": false} {
		if got := StoresData(op); got != want {
			t.Errorf("StoresData(%s) = %v", op, got)
		}
	}
}

func TestInternalMessage(t *testing.T) {
	for _, c := range []struct {
		err  error
		full bool
	}{
		{fmt.Errorf("write /data/s3/tmp/up-1: %w", syscall.ENOSPC), true},
		{errors.New("sqlite: database or disk is full (13)"), true},
		{errors.New("boom"), false},
	} {
		m := InternalMessage(c.err, "rid-1")
		if strings.Contains(m, "data volume is full") != c.full || !strings.HasSuffix(m, "Request id rid-1.") || strings.Contains(m, "boom") {
			t.Errorf("InternalMessage(%v) = %q", c.err, m)
		}
	}
}
