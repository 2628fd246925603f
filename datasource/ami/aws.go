package ami

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/nodebake/packer-plugin-node/internal/fingerprint"
)

// describeImagesFunc is the one EC2 operation this data source calls.
//
// Binary size: the plugin SDK links net/rpc, whose reflection makes the
// linker keep every exported method of any type stored in an interface.
// Storing *ec2.Client in a struct field or an interface (the paginator's
// argument included) keeps all of service/ec2's ~800 operations and adds
// ~30 MB to the plugin. So nothing but the method value
// client.DescribeImages ever leaves newDescribeImages; the paginator gets
// it through describeImagesAPI, whose only method is DescribeImages.
type describeImagesFunc func(context.Context, *ec2.DescribeImagesInput, ...func(*ec2.Options)) (*ec2.DescribeImagesOutput, error)

// describeImagesAPI adapts a describeImagesFunc to ec2.DescribeImagesAPIClient.
type describeImagesAPI describeImagesFunc

func (f describeImagesAPI) DescribeImages(ctx context.Context, in *ec2.DescribeImagesInput, optFns ...func(*ec2.Options)) (*ec2.DescribeImagesOutput, error) {
	return f(ctx, in, optFns...)
}

// pageSize is the MaxResults asked of each DescribeImages call (EC2 allows
// 5 to 1000). Without it EC2 answers in a single, unpaginated response.
const pageSize = 1000

// Bounds of each HTTP attempt, whatever the overall timeout: an endpoint
// that accepts connections but never answers costs one attempt, which the
// SDK's retryer then retries with backoff (max_retries) while the lookup's
// timeout allows. Variables so that tests can shorten them.
var (
	dialTimeout           = 10 * time.Second // TCP connect
	tlsHandshakeTimeout   = 10 * time.Second
	responseHeaderTimeout = 30 * time.Second // request sent, until the status line and headers
	readTimeout           = 30 * time.Second // silence while reading a response
)

// newHTTPClient is the SDK's buildable client with every wait bounded. It
// stays an *awshttp.BuildableClient so that AWS_CA_BUNDLE still works.
func newHTTPClient() *awshttp.BuildableClient {
	return awshttp.NewBuildableClient().
		WithDialerOptions(func(d *net.Dialer) { d.Timeout = dialTimeout }).
		WithTransportOptions(func(tr *http.Transport) {
			tr.TLSHandshakeTimeout = tlsHandshakeTimeout
			tr.ResponseHeaderTimeout = responseHeaderTimeout
		}).
		WithReadTimeout(readTimeout)
}

// endpointRecorder passes requests on to an HTTP client and remembers where
// the last one went, so that a timeout can name the endpoint that did not
// answer.
type endpointRecorder struct {
	next aws.HTTPClient
	mu   sync.Mutex
	last string
}

func (r *endpointRecorder) Do(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.last = redactURL(req.URL)
	r.mu.Unlock()
	return r.next.Do(req)
}

// endpoint is the last endpoint a request was sent to, or "".
func (r *endpointRecorder) endpoint() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

// redactURL shows an endpoint without its userinfo, query or fragment,
// which may carry credentials.
func redactURL(u *url.URL) string {
	if u == nil {
		return ""
	}
	v := *u
	v.User = nil
	v.RawQuery, v.ForceQuery = "", false
	v.Fragment, v.RawFragment = "", ""
	if v.Path == "/" {
		v.Path, v.RawPath = "", ""
	}
	return v.String()
}

// redactEndpoint is redactURL of a configured endpoint.
func redactEndpoint(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(an unparsable URL)"
	}
	return redactURL(u)
}

// timeoutError says what did not answer before the lookup's timeout. It
// wraps the SDK's error (so errors.Is(err, context.DeadlineExceeded)
// holds) but does not print it: the SDK's text may show an endpoint's
// userinfo, and "context deadline exceeded" says less than this does.
type timeoutError struct {
	msg   string
	cause error
}

func (e *timeoutError) Error() string { return e.msg }
func (e *timeoutError) Unwrap() error { return e.cause }

const timeoutHint = "; raise timeout if the endpoint is only slow, or check the network, proxy and endpoint settings"

// timedOut reports whether err ended the lookup because its context ran out.
func timedOut(ctx context.Context, err error) bool {
	return err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded)
}

// execute resolves credentials, finds the newest matching image and turns
// it into the data source's output, all within c.Timeout.
func execute(ctx context.Context, c *Config) (*DatasourceOutput, error) {
	// Configure checks this too; this guard keeps Execute from signing
	// requests for an empty region, which the SDK allows silently when a
	// custom endpoint is set.
	if c.Region == "" {
		return nil, errors.New("node-ami: region is required")
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	ec2Endpoint := &endpointRecorder{}
	describe, err := newDescribeImages(ctx, c, timeout, ec2Endpoint)
	if err != nil {
		return nil, err
	}
	img, err := findNewest(ctx, describe, c)
	var none *noImageError
	if errors.As(err, &none) && c.Fingerprint != "" {
		err = explainMiss(ctx, describe, c, err)
	}
	if err != nil {
		if timedOut(ctx, err) {
			where := ec2Endpoint.endpoint()
			if where == "" && c.CustomEndpointEc2 != "" {
				where = redactEndpoint(c.CustomEndpointEc2)
			}
			if where == "" {
				where = "for region " + c.Region
			} else {
				where += " (region " + c.Region + ")"
			}
			return nil, &timeoutError{
				msg: fmt.Sprintf("node-ami: timed out after %s: the EC2 endpoint %s did not answer DescribeImages for %s%s",
					timeout, where, c.describeSearch(), timeoutHint),
				cause: err,
			}
		}
		return nil, err
	}
	return outputFor(img), nil
}

// newDescribeImages builds an EC2 client from the AWS SDK's default chain
// plus the explicit options, and returns only its DescribeImages method.
// ec2Endpoint records where the client's requests go; timeout is only for
// the errors.
func newDescribeImages(ctx context.Context, c *Config, timeout time.Duration, ec2Endpoint *endpointRecorder) (describeImagesFunc, error) {
	opts := []func(*awsconfig.LoadOptions) error{
		awsconfig.WithRegion(c.Region),
		awsconfig.WithHTTPClient(newHTTPClient()),
	}
	if c.Profile != "" {
		opts = append(opts, awsconfig.WithSharedConfigProfile(c.Profile))
	}
	if c.SharedCredentialsFile != "" {
		opts = append(opts, awsconfig.WithSharedCredentialsFiles([]string{c.SharedCredentialsFile}))
	}
	if c.AccessKey != "" {
		opts = append(opts, awsconfig.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(c.AccessKey, c.SecretKey, c.Token)))
	}
	if c.MaxRetries > 0 {
		opts = append(opts, awsconfig.WithRetryMaxAttempts(c.MaxRetries))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		if timedOut(ctx, err) {
			return nil, &timeoutError{
				msg:   fmt.Sprintf("node-ami: timed out after %s loading the AWS configuration (profile %q, region %s)%s", timeout, c.Profile, c.Region, timeoutHint),
				cause: err,
			}
		}
		return nil, fmt.Errorf("node-ami: loading the AWS configuration (profile %q): %w", c.Profile, err)
	}
	// Wrapped only now: LoadDefaultConfig wants the buildable client itself
	// to add AWS_CA_BUNDLE's certificates to it.
	httpClient := cfg.HTTPClient
	ec2Endpoint.next = httpClient

	stsEndpoint := &endpointRecorder{next: httpClient}
	if c.AssumeRole.RoleARN != "" {
		ar := c.AssumeRole
		stsClient := sts.NewFromConfig(cfg, func(o *sts.Options) { o.HTTPClient = stsEndpoint })
		provider := stscreds.NewAssumeRoleProvider(stsClient, ar.RoleARN, func(o *stscreds.AssumeRoleOptions) {
			if ar.SessionName != "" {
				o.RoleSessionName = ar.SessionName
			}
			if ar.ExternalID != "" {
				o.ExternalID = aws.String(ar.ExternalID)
			}
			if ar.DurationSeconds > 0 {
				o.Duration = time.Duration(ar.DurationSeconds) * time.Second
			}
		})
		cfg.Credentials = aws.NewCredentialsCache(provider)
	}

	// Without credentials the SDK would send the request unsigned; find
	// them now so that a missing or broken source is named as such.
	if cfg.Credentials == nil {
		return nil, errors.New("node-ami: no AWS credentials provider; " + credentialsHint)
	}
	creds, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		if timedOut(ctx, err) {
			msg := fmt.Sprintf("node-ami: timed out after %s finding AWS credentials (region %s)", timeout, c.Region)
			if c.AssumeRole.RoleARN != "" {
				where := stsEndpoint.endpoint()
				if where == "" {
					where = "for region " + c.Region
				} else {
					where += " (region " + c.Region + ")"
				}
				msg = fmt.Sprintf("node-ami: timed out after %s assuming role %s: the STS endpoint %s did not answer AssumeRole",
					timeout, c.AssumeRole.RoleARN, where)
			}
			return nil, &timeoutError{msg: msg + timeoutHint, cause: err}
		}
		if c.AssumeRole.RoleARN != "" {
			return nil, fmt.Errorf("node-ami: assuming role %s in region %s: %w", c.AssumeRole.RoleARN, c.Region, err)
		}
		return nil, fmt.Errorf("node-ami: no usable AWS credentials: %w; %s", err, credentialsHint)
	}
	log.Printf("[INFO] node-ami: AWS credentials from %s", creds.Source)

	client := ec2.NewFromConfig(cfg, func(o *ec2.Options) {
		o.HTTPClient = ec2Endpoint
		if c.CustomEndpointEc2 != "" {
			o.BaseEndpoint = aws.String(c.CustomEndpointEc2)
		}
	})
	return client.DescribeImages, nil
}

const credentialsHint = "set access_key and secret_key, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, " +
	"or a profile (profile, AWS_PROFILE, SSO), or run on an EC2 instance with an instance role"

// filters returns the DescribeImages filters of the configuration, in a
// stable order: name, state, architecture, then tags by key.
func (c *Config) filters() []types.Filter {
	fs := []types.Filter{
		{Name: aws.String("name"), Values: []string{c.NamePattern()}},
		{Name: aws.String("state"), Values: []string{string(types.ImageStateAvailable)}},
	}
	if c.Architecture != "" {
		fs = append(fs, types.Filter{Name: aws.String("architecture"), Values: []string{c.Architecture}})
	}
	for _, k := range sortedKeys(c.searchTags()) {
		fs = append(fs, types.Filter{Name: aws.String("tag:" + k), Values: []string{c.searchTags()[k]}})
	}
	return fs
}

// findNewest pages through every matching image and returns the one with
// the latest CreationDate: EC2 does not promise any order.
func findNewest(ctx context.Context, describe describeImagesFunc, c *Config) (*types.Image, error) {
	input := &ec2.DescribeImagesInput{
		Owners:            append([]string(nil), c.Owners...),
		Filters:           c.filters(),
		IncludeDeprecated: aws.Bool(c.IncludeDeprecated),
	}
	log.Printf("[INFO] node-ami: searching %s", c.describeSearch())

	pages := ec2.NewDescribeImagesPaginator(describeImagesAPI(describe), input, func(o *ec2.DescribeImagesPaginatorOptions) {
		o.Limit = pageSize
		o.StopOnDuplicateToken = true
	})
	now := time.Now()
	var candidates []candidate
	for page := 1; pages.HasMorePages(); page++ {
		out, err := pages.NextPage(ctx)
		if err != nil {
			return nil, describeError(err, c, page)
		}
		for i := range out.Images {
			img := out.Images[i]
			if img.State != "" && img.State != types.ImageStateAvailable {
				continue
			}
			if !c.IncludeDeprecated && deprecated(img, now) {
				log.Printf("[INFO] node-ami: skipping deprecated image %s (%s)", aws.ToString(img.ImageId), aws.ToString(img.Name))
				continue
			}
			created, err := parseTime(aws.ToString(img.CreationDate))
			if err != nil {
				log.Printf("[WARN] node-ami: image %s has an unreadable CreationDate %q; ranking it oldest",
					aws.ToString(img.ImageId), aws.ToString(img.CreationDate))
			}
			candidates = append(candidates, candidate{image: img, created: created})
		}
	}
	if len(candidates) == 0 {
		return nil, &noImageError{search: c.describeSearch()}
	}
	sort.SliceStable(candidates, func(i, j int) bool { return candidates[i].newerThan(candidates[j]) })
	best := candidates[0].image
	log.Printf("[INFO] node-ami: %d matching images; newest is %s (%s, created %s)", len(candidates),
		aws.ToString(best.ImageId), aws.ToString(best.Name), aws.ToString(best.CreationDate))
	return &best, nil
}

type candidate struct {
	image   types.Image
	created time.Time
}

// newerThan orders by creation time, then (for equal or unreadable times)
// by name and ID, so that the choice never depends on EC2's order.
func (a candidate) newerThan(b candidate) bool {
	if !a.created.Equal(b.created) {
		return a.created.After(b.created)
	}
	if an, bn := aws.ToString(a.image.Name), aws.ToString(b.image.Name); an != bn {
		return an > bn
	}
	return aws.ToString(a.image.ImageId) > aws.ToString(b.image.ImageId)
}

// parseTime reads EC2's ISO 8601 timestamps, such as
// 2021-09-29T11:04:43.305Z (milliseconds are optional).
func parseTime(s string) (time.Time, error) {
	return time.Parse(time.RFC3339Nano, s)
}

func deprecated(img types.Image, now time.Time) bool {
	if img.DeprecationTime == nil {
		return false
	}
	t, err := parseTime(*img.DeprecationTime)
	return err == nil && !t.After(now)
}

// describeSearch states everything the search used, for logs and errors.
func (c *Config) describeSearch() string {
	tags := "none"
	if st := c.searchTags(); len(st) > 0 {
		parts := make([]string, 0, len(st))
		for _, k := range sortedKeys(st) {
			parts = append(parts, fmt.Sprintf("%s=%q", k, st[k]))
		}
		tags = strings.Join(parts, ", ")
	}
	arch := "any"
	if c.Architecture != "" {
		arch = c.Architecture
	}
	return fmt.Sprintf("name pattern %q, owners [%s], tags {%s}, architecture %s, include_deprecated %t, region %s",
		c.NamePattern(), strings.Join(c.Owners, ", "), tags, arch, c.IncludeDeprecated, c.Region)
}

// searchTags are the tags an image must carry: tags, and the fingerprint's.
func (c *Config) searchTags() map[string]string {
	if c.Fingerprint == "" {
		return c.Tags
	}
	t := map[string]string{fingerprint.TagKey: c.Fingerprint}
	for k, v := range c.Tags {
		t[k] = v
	}
	return t
}

// noImageError is a search that found nothing.
type noImageError struct{ search string }

func (e *noImageError) Error() string {
	return "node-ami: no available image found for " + e.search
}

// explainMiss turns a fingerprint search that found nothing into an error
// that names the newest image matching everything but the fingerprint
// and, when its tags and fingerprint_parts tell, the parts that differ.
func explainMiss(ctx context.Context, describe describeImagesFunc, c *Config, miss error) error {
	without := *c
	without.Fingerprint = ""
	img, err := findNewest(ctx, describe, &without)
	var none *noImageError
	switch {
	case errors.As(err, &none):
		return fmt.Errorf("node-ami: no available image with fingerprint %s, and none without it either: %w", c.Fingerprint, err)
	case err != nil:
		return fmt.Errorf("%w (and looking for the newest image without the fingerprint failed: %v)", miss, err)
	}
	out := outputFor(img)
	have := out.Tags[fingerprint.TagKey]
	if have == "" {
		have = "none"
	}
	msg := fmt.Sprintf("node-ami: no available image with fingerprint %s for %s; the newest image without that filter is %s (%q, created %s), whose fingerprint is %s",
		c.Fingerprint, c.describeSearch(), out.ID, out.Name, out.CreationDate, have)
	parts := fingerprint.PartsFromTags(out.Tags)
	switch {
	case parts == nil:
		msg += "; its tags do not say what it was made of (no " + fingerprint.PartTagPrefix + "* tags)"
	case len(c.FingerprintParts) == 0:
		msg += "; set fingerprint_parts to the node-fingerprint data source's parts to learn which differ"
	default:
		if d := fingerprint.Diff(c.FingerprintParts, parts); len(d) > 0 {
			msg += "; it differs in " + strings.Join(d, ", ")
		} else {
			msg += "; its parts' tags match fingerprint_parts: its node:fingerprint tag was set by hand, or fingerprint_parts is not this fingerprint's"
		}
	}
	return errors.New(msg + ". Build a primal image for this fingerprint")
}

// describeError explains a failed DescribeImages call.
func describeError(err error, c *Config, page int) error {
	hint := ""
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode() {
		case "AuthFailure", "UnauthorizedOperation", "InvalidClientTokenId", "SignatureDoesNotMatch",
			"ExpiredToken", "RequestExpired", "OptInRequired":
			hint = " (AWS rejected the credentials or their permissions: check access_key/secret_key, the profile " +
				"or role in use, that it may call ec2:DescribeImages, and that the region is enabled for the account)"
		case "RequestLimitExceeded", "Throttling", "ThrottlingException":
			hint = " (AWS is throttling the account's API calls; retry later or raise max_retries)"
		}
	}
	var netErr net.Error
	if hint == "" && errors.As(err, &netErr) && netErr.Timeout() {
		hint = " (no attempt got an answer in time: check the network, proxy and endpoint settings, or raise max_retries)"
	}
	return fmt.Errorf("node-ami: DescribeImages failed (page %d) for %s: %w%s", page, c.describeSearch(), err, hint)
}

func outputFor(img *types.Image) *DatasourceOutput {
	tags := make(map[string]string, len(img.Tags))
	for _, t := range img.Tags {
		tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return &DatasourceOutput{
		ID:           aws.ToString(img.ImageId),
		Name:         aws.ToString(img.Name),
		CreationDate: aws.ToString(img.CreationDate),
		OwnerID:      aws.ToString(img.OwnerId),
		Architecture: string(img.Architecture),
		Tags:         tags,
	}
}
