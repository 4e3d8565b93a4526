package main

import (
	"errors"
	"strings"
	"testing"

	"vmm/vmm"
)

func TestParseDisk(t *testing.T) {
	good := map[string]vmm.DiskConfig{
		"a.img":                          {Path: "a.img", ID: "vmm-disk0"},
		"/x/b.img,ro,direct":             {Path: "/x/b.img", ReadOnly: true, Direct: true, ID: "vmm-disk0"},
		"c.img,id=root,engine=sync":      {Path: "c.img", ID: "root", Engine: "sync"},
		"d.img,engine=uring,ro,id=data1": {Path: "d.img", ID: "data1", Engine: "uring", ReadOnly: true},
	}
	for spec, want := range good {
		got, err := parseDisk(spec, 0)
		if err != nil || got != want {
			t.Errorf("parseDisk(%q) = %+v, %v; want %+v", spec, got, err, want)
		}
	}
	bad := map[string]string{
		"":                               "path is empty",
		",ro":                            "path is empty",
		"a.img,rw":                       `unknown field "rw"`,
		"a.img,ro=1":                     `"ro" takes no value`,
		"a.img,id=":                      "id \"\" must be 1 to 20 bytes",
		"a.img,id=123456789012345678901": "must be 1 to 20 bytes",
		"a.img,id=a b":                   "printable ASCII",
		"a.img,engine=aio":               `engine "aio": use uring or sync`,
		"a.img,engine":                   `"engine" needs a value`,
		"a.img,ro,ro":                    `"ro" is given twice`,
	}
	for spec, want := range bad {
		_, err := parseDisk(spec, 0)
		var ue *usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), want) {
			t.Errorf("parseDisk(%q) = %v; want a usage error saying %q", spec, err, want)
		}
	}
	if _, err := parseDisks([]string{"a,id=x", "b,id=x"}); err == nil || !strings.Contains(err.Error(), "already used") {
		t.Errorf("duplicate ids: %v", err)
	}
	if _, err := parseDisks(make([]string, vmm.MaxDisks+1)); err == nil || !strings.Contains(err.Error(), "at most") {
		t.Errorf("too many disks: %v", err)
	}
}

func FuzzParseDisk(f *testing.F) {
	f.Add("a.img,ro,direct,id=x,engine=sync")
	f.Add(",,,=,id==,engine=uring")
	f.Fuzz(func(t *testing.T, spec string) {
		d, err := parseDisk(spec, 3)
		if err != nil {
			var ue *usageError
			if !errors.As(err, &ue) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %v is not a one-line usage error", err)
			}
			return
		}
		if d.Path == "" || strings.Contains(d.Path, ",") || len(d.ID) == 0 || len(d.ID) > 20 || (d.Engine != "" && d.Engine != "uring" && d.Engine != "sync") {
			t.Fatalf("accepted %q as %+v", spec, d)
		}
	})
}
