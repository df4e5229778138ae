package server_test

import (
	"fmt"
	"sync"
	"testing"

	v1aws "github.com/aws/aws-sdk-go/aws"
	lv "github.com/aws/aws-sdk-go/service/lookoutforvision"

	"github.com/ocellus/ocellus/internal/e2e"
	"github.com/ocellus/ocellus/internal/e2e/pgtest"
	"github.com/ocellus/ocellus/internal/server"
)

// startNodes starts n in-process servers on one PostgreSQL database, each
// with its own node id and data directory and the same service key.
func startNodes(t *testing.T, url string, n int, cfg server.Config) []*e2e.Server {
	t.Helper()
	nodes := make([]*e2e.Server, n)
	for i := range nodes {
		c := cfg
		c.Database, c.ServiceKey, c.ClusterSecret, c.NodeID = url, sharedKey, clusterSecret, fmt.Sprintf("node-%d", i+1)
		nodes[i] = e2e.Start(t, c)
	}
	return nodes
}

// TestPostgresClientTokenAcrossNodes: requests racing with one client
// token on two nodes of one database create one project; every one of them
// gets the first answer, and one with other parameters a
// ConflictException. Without the database's claim the losers would get
// "already exists" (the project's name is taken) instead of the answer.
func TestPostgresClientTokenAcrossNodes(t *testing.T) {
	url := pgtest.Start(t).NewDatabase(t)
	nodes := startNodes(t, url, 2, server.Config{})
	clients := []*lv.LookoutForVision{nodes[0].LookoutVision(alice), nodes[1].LookoutVision(alice)}
	for round := range 3 {
		name, token := fmt.Sprintf("race-%d", round), fmt.Sprintf("tok-%d", round)
		const n = 8
		arns := make([]string, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				out, err := clients[i%2].CreateProject(&lv.CreateProjectInput{ProjectName: v1aws.String(name), ClientToken: v1aws.String(token)})
				errs[i] = err
				if err == nil {
					arns[i] = *out.ProjectMetadata.ProjectArn
				}
			}()
		}
		wg.Wait()
		for i := range n {
			if errs[i] != nil || arns[i] != arns[0] || arns[i] == "" {
				t.Fatalf("round %d, request %d (node %d): %q, %v; first answer %q", round, i, i%2+1, arns[i], errs[i], arns[0])
			}
		}
		_, err := clients[1].CreateProject(&lv.CreateProjectInput{ProjectName: v1aws.String(name + "-other"), ClientToken: v1aws.String(token)})
		wantL4VErr(t, err, "ConflictException", 409)
	}
	list, err := clients[0].ListProjects(&lv.ListProjectsInput{})
	if err != nil || len(list.Projects) != 3 {
		t.Fatalf("projects: %v, %v", list, err)
	}
}
