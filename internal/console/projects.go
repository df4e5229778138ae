package console

import (
	"cmp"
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/ocellus/ocellus/internal/apimodel"
	"github.com/ocellus/ocellus/internal/control"
	"github.com/ocellus/ocellus/internal/ocellus"
)

// The products a project can belong to, as the forms name them.
const (
	productCustomLabels  = "custom-labels"
	productLookoutVision = "lookout-vision"
)

// projectRow is one line of the projects page.
type projectRow struct {
	Name, ARN, Product, Status, Created string
}

// projectsData is the projects page's content.
type projectsData struct {
	Projects []projectRow
	Product  string // the create form's last choice
	Name     string
}

func (c *Console) serveProjects(w http.ResponseWriter, r *http.Request, ss session) {
	rows, err := c.projects(r.Context(), ss.Account)
	f := c.sessions.takeFlash(ss.ID)
	if err != nil {
		f = flash{Error: true, Title: "Could not list the projects.", Text: c.message(err, "listing the projects")}
	}
	c.render(w, http.StatusOK, "projects.html", page{Title: "Projects", Session: &ss, Flash: f,
		Data: projectsData{Projects: rows, Product: cmp.Or(f.Product, productCustomLabels), Name: f.Name}})
}

// projects lists both products' projects of account, newest first.
func (c *Console) projects(ctx context.Context, account string) ([]projectRow, error) {
	var all []*ocellus.Project
	for tok := ""; ; {
		ps, next, err := c.ctl.DescribeProjects(ctx, account, control.DescribeProjectsInput{NextToken: tok})
		if err != nil {
			return nil, err
		}
		all = append(all, ps...)
		if tok = next; tok == "" {
			break
		}
	}
	for tok := ""; ; {
		ps, next, err := c.l4v.ListLookoutProjects(ctx, account, tok, 0)
		if err != nil {
			return nil, err
		}
		all = append(all, ps...)
		if tok = next; tok == "" {
			break
		}
	}
	slices.SortFunc(all, func(a, b *ocellus.Project) int {
		return cmp.Or(b.Created.Compare(a.Created), cmp.Compare(a.Name, b.Name))
	})
	rows := make([]projectRow, len(all))
	for i, p := range all {
		rows[i] = projectRow{Name: p.Name, ARN: p.ARN, Product: productName(p), Status: string(p.Status),
			Created: p.Created.UTC().Format("2006-01-02 15:04 UTC")}
	}
	return rows, nil
}

func productName(p *ocellus.Project) string {
	if p.Service == ocellus.LookoutVision {
		return "Lookout for Vision"
	}
	if p.Feature == ocellus.FeatureContentModeration {
		return "Custom Moderation"
	}
	return "Custom Labels"
}

// serveCreateProject creates a project with the checks the product's
// CreateProject applies: the API model's constraints on the name, then the
// control plane's rules.
func (c *Console) serveCreateProject(w http.ResponseWriter, r *http.Request, ss session) {
	product, name := r.PostFormValue("product"), strings.TrimSpace(r.PostFormValue("name"))
	in := map[string]any{"ProjectName": name}
	var err error
	switch product {
	case productCustomLabels:
		if err = apimodel.Rekognition.Validate("CreateProject", in); err == nil {
			_, err = c.ctl.CreateProject(r.Context(), ss.Account, control.CreateProjectInput{Name: name})
		}
	case productLookoutVision:
		if err = apimodel.LookoutVision.Validate("CreateProject", in); err == nil {
			_, err = c.l4v.CreateLookoutProject(r.Context(), ss.Account, name)
		}
	default:
		err = ocellus.Errorf(ocellus.Invalid, "Choose the product of the project: Custom Labels or Lookout for Vision.")
	}
	var verr *apimodel.ValidationError
	if errors.As(err, &verr) {
		err = ocellus.Errorf(ocellus.Invalid, "%s", verr.Error())
	}
	c.after(w, r, ss, err, flash{Title: "Could not create the project.", Product: product, Name: name}, "creating the project", "Created the project "+name+".", Prefix+"projects")
}

// serveDeleteProject deletes a project with the product's DeleteProject
// rules (no model versions left; for Lookout for Vision, no datasets nor
// models left).
func (c *Console) serveDeleteProject(w http.ResponseWriter, r *http.Request, ss session) {
	arn := r.PostFormValue("arn")
	a, err := ocellus.ParseARN(arn)
	name := ""
	if err == nil {
		_, rest, _ := strings.Cut(a.Resource, "project/")
		name, _, _ = strings.Cut(rest, "/")
		switch a.Service {
		case ocellus.Rekognition:
			_, err = c.ctl.DeleteProject(r.Context(), ss.Account, arn)
		case ocellus.LookoutVision:
			if err = ocellus.CheckOwner(arn, ss.Account, c.l4v.Region()); err == nil {
				_, err = c.l4v.DeleteLookoutProject(r.Context(), ss.Account, name)
			}
		default:
			err = ocellus.Errorf(ocellus.Invalid, "%s is not a project ARN.", arn)
		}
	}
	c.after(w, r, ss, err, flash{Title: "Could not delete the project."}, "deleting the project", "Deleted the project "+name+".", Prefix+"projects")
}

// after ends a form action: the outcome is kept for the next page (failed,
// the error's message and what to show with it) and the browser goes on
// to the page to, so that a reload does not send the form again.
func (c *Console) after(w http.ResponseWriter, r *http.Request, ss session, err error, failed flash, what, done, to string) {
	f := flash{Text: done}
	if err != nil {
		f = failed
		f.Error, f.Text = true, c.message(err, what)
	}
	c.sessions.setFlash(ss.ID, f)
	http.Redirect(w, r, to, http.StatusSeeOther)
}
