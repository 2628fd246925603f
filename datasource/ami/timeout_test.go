package ami

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// executeWithin runs Execute and fails the test if it has not returned
// within bound, so that a lookup that hangs fails the test instead of
// hanging it. It returns Execute's error and how long it took.
func executeWithin(t *testing.T, d *Datasource, bound time.Duration) (error, time.Duration) {
	t.Helper()
	type result struct{ err error }
	done := make(chan result, 1)
	start := time.Now()
	go func() {
		_, err := d.Execute()
		done <- result{err}
	}()
	select {
	case r := <-done:
		return r.err, time.Since(start)
	case <-time.After(bound):
		t.Fatalf("Execute still running after %s: the lookup is not bounded", bound)
		return nil, 0
	}
}

func TestExecuteTimesOutOnBlackHoleEC2(t *testing.T) {
	for _, tc := range []struct {
		name     string
		endpoint func(host string) string
	}{
		{"plain endpoint", func(host string) string { return "http://" + host }},
		// Userinfo in the endpoint may be a credential: the error shows the
		// endpoint without it.
		{"endpoint with userinfo", func(host string) string { return "http://ec2user:hunter2-secret@" + host + "/" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			isolateAWS(t)
			bh := newBlackHole(t)
			host := strings.TrimPrefix(bh.URL(), "http://")
			d := mustConfigure(t, fmt.Sprintf(`
app_name            = "ponyfoo"
region              = %q
custom_endpoint_ec2 = %q
timeout             = "3s"
`, testRegion, tc.endpoint(host)))

			err, took := executeWithin(t, d, 30*time.Second)
			t.Logf("Execute returned after %s: %v", took.Round(time.Millisecond), err)
			if err == nil {
				t.Fatal("Execute succeeded against an endpoint that never answers")
			}
			if took < 2500*time.Millisecond {
				t.Errorf("Execute gave up after %s, before the 3s timeout", took)
			}
			msg := err.Error()
			for _, want := range []string{
				"timed out after 3s",
				"the EC2 endpoint " + bh.URL() + " (region " + testRegion + ")",
				"did not answer DescribeImages",
				`name pattern "ponyfoo-primal *"`,
				"raise timeout",
			} {
				if !strings.Contains(msg, want) {
					t.Errorf("error lacks %q:\n%s", want, msg)
				}
			}
			for _, leak := range []string{"hunter2", "ec2user"} {
				if strings.Contains(msg, leak) {
					t.Errorf("error shows the endpoint's userinfo (%q):\n%s", leak, msg)
				}
			}
			if strings.Contains(msg, "context deadline exceeded") {
				t.Errorf("error still says only what Go says:\n%s", msg)
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("error does not wrap context.DeadlineExceeded: %v", err)
			}
			// The request did reach the black hole: it was the endpoint's
			// silence that timed out, not a refused connection.
			if n := bh.connections(); n < 1 {
				t.Errorf("the black hole accepted %d connections", n)
			}
		})
	}
}

func TestExecuteTimesOutOnBlackHoleSTS(t *testing.T) {
	isolateAWS(t)
	bh := newBlackHole(t)
	f := newFakeAWS(t) // EC2 must never be asked: the role was not assumed
	t.Setenv("AWS_ENDPOINT_URL_STS", bh.URL())
	d := mustConfigure(t, fmt.Sprintf(`
app_name            = "ponyfoo"
region              = %q
custom_endpoint_ec2 = %q
timeout             = "3s"
assume_role {
  role_arn = "arn:aws:iam::123456789012:role/image-reader"
}
`, testRegion, f.URL()))

	err, took := executeWithin(t, d, 30*time.Second)
	t.Logf("Execute returned after %s: %v", took.Round(time.Millisecond), err)
	if err == nil {
		t.Fatal("Execute succeeded though STS never answered")
	}
	if took < 2500*time.Millisecond {
		t.Errorf("Execute gave up after %s, before the 3s timeout", took)
	}
	for _, want := range []string{
		"timed out after 3s assuming role arn:aws:iam::123456789012:role/image-reader",
		"the STS endpoint " + bh.URL() + " (region " + testRegion + ")",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if n := len(f.actions("DescribeImages")); n != 0 {
		t.Errorf("%d DescribeImages requests without the assumed role", n)
	}
	if n := bh.connections(); n < 1 {
		t.Errorf("the black hole accepted %d connections", n)
	}
}
