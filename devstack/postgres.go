package devstack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	serverlog "go.temporal.io/server/common/log"
	"go.temporal.io/server/common/membership/static"
	"go.temporal.io/server/common/persistence/sql/sqlplugin/postgresql"
	"go.temporal.io/server/common/primitives"
	"go.temporal.io/server/temporal"
	"go.temporal.io/server/tools/common/schema"
	sqltool "go.temporal.io/server/tools/sql"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/nurture-dev/nurture/workflows"
	"github.com/temporalio/cli/temporalcli/devserver"
)

// PostgresOptions say where a Temporal server persisted to PostgreSQL keeps
// its data: the shape docker-compose deploys (Temporal's own databases on
// the PostgreSQL server nurture uses), run inside the calling process, as
// benchmarks want.
type PostgresOptions struct {
	// Host and Port of PostgreSQL; 127.0.0.1:5432 when empty.
	Host string
	Port int
	User string
	// Database is Temporal's database; its visibility store is Database
	// with "_visibility" appended. Both are dropped and made afresh.
	Database string
	// HistoryShards is the number of history shards, fixed for the life
	// of a cluster; 4 when zero.
	HistoryShards int32
	// MaxConns is each store's connection pool; 20 when zero.
	MaxConns  int
	Namespace string
	// DynamicConfig sets the server's dynamic configuration by key.
	DynamicConfig map[string]any
}

// StartTemporalPostgres makes Temporal's two databases afresh (its schema
// from the server's own embedded files), starts the server's four services
// in this process, and registers the namespace with nurture's search
// attributes. It returns once the namespace answers.
func StartTemporalPostgres(ctx context.Context, opts PostgresOptions) (*Temporal, error) {
	if opts.Host == "" {
		opts.Host = "127.0.0.1"
	}
	if opts.Port == 0 {
		opts.Port = 5432
	}
	if opts.HistoryShards == 0 {
		opts.HistoryShards = 4
	}
	if opts.MaxConns == 0 {
		opts.MaxConns = 20
	}
	if opts.Namespace == "" {
		opts.Namespace = "default"
	}
	if opts.Database == "" {
		return nil, errors.New("temporal on PostgreSQL: name a database")
	}
	logger := serverlog.NewZapLogger(serverlog.BuildZapLogger(serverlog.Config{Level: "error"}))
	store := func(db string) *config.SQL {
		return &config.SQL{
			PluginName: postgresql.PluginNamePGX, DatabaseName: db, User: opts.User,
			ConnectAddr: net.JoinHostPort(opts.Host, strconv.Itoa(opts.Port)), ConnectProtocol: "tcp",
			MaxConns: opts.MaxConns, MaxIdleConns: opts.MaxConns, MaxConnLifetime: time.Hour,
		}
	}
	stores := map[string]string{opts.Database: "postgresql/v12/temporal", opts.Database + "_visibility": "postgresql/v12/visibility"}
	for db, schemaName := range stores {
		if err := freshSchema(store(db), schemaName, logger); err != nil {
			return nil, fmt.Errorf("temporal on PostgreSQL: database %s: %w", db, err)
		}
	}

	const ip = "127.0.0.1"
	ports := make([]int, 5)
	for i := range ports {
		p, err := devserver.GetFreePort(ip)
		if err != nil {
			return nil, fmt.Errorf("find a free port for Temporal: %w", err)
		}
		ports[i] = p
	}
	frontend, httpPort := ports[0], ports[4]
	service := func(port int) config.Service {
		var s config.Service
		s.RPC.GRPCPort, s.RPC.BindOnIP = port, ip
		return s
	}
	var conf config.Config
	conf.Global.Membership.MaxJoinDuration = 30 * time.Second
	conf.Global.Membership.BroadcastAddress = ip
	conf.Persistence.DefaultStore, conf.Persistence.VisibilityStore = "default", "visibility"
	conf.Persistence.NumHistoryShards = opts.HistoryShards
	conf.Persistence.DataStores = map[string]config.DataStore{
		"default": {SQL: store(opts.Database)}, "visibility": {SQL: store(opts.Database + "_visibility")},
	}
	conf.ClusterMetadata = &cluster.Config{
		FailoverVersionIncrement: 10, MasterClusterName: "active", CurrentClusterName: "active",
		ClusterInformation: map[string]cluster.ClusterInformation{"active": {
			Enabled: true, InitialFailoverVersion: 1, ClusterID: "nurture-bench",
			RPCAddress:  net.JoinHostPort(ip, strconv.Itoa(frontend)),
			HTTPAddress: net.JoinHostPort(ip, strconv.Itoa(httpPort)),
		}},
	}
	conf.DCRedirectionPolicy.Policy = "noop"
	fe := service(frontend)
	fe.RPC.HTTPPort = httpPort
	conf.Services = map[string]config.Service{
		string(primitives.FrontendService): fe, string(primitives.HistoryService): service(ports[1]),
		string(primitives.MatchingService): service(ports[2]), string(primitives.WorkerService): service(ports[3]),
	}
	conf.Archival.History.State, conf.Archival.Visibility.State = "disabled", "disabled"
	conf.NamespaceDefaults.Archival.History.State, conf.NamespaceDefaults.Archival.Visibility.State = "disabled", "disabled"
	conf.PublicClient.HostPort = net.JoinHostPort(ip, strconv.Itoa(frontend))

	hosts := map[primitives.ServiceName]static.Hosts{}
	for name, s := range conf.Services {
		hosts[primitives.ServiceName(name)] = static.SingleLocalHost(net.JoinHostPort(ip, strconv.Itoa(s.RPC.GRPCPort)))
	}
	dyn := dynamicconfig.StaticClient{}
	for k, v := range opts.DynamicConfig {
		dyn[dynamicconfig.Key(k)] = v
	}
	server, err := temporal.NewServer(
		temporal.WithConfig(&conf), temporal.ForServices(temporal.DefaultServices),
		temporal.WithStaticHosts(hosts), temporal.WithLogger(logger), temporal.WithDynamicConfigClient(dyn))
	if err != nil {
		return nil, fmt.Errorf("temporal on PostgreSQL: %w", err)
	}
	if err := server.Start(); err != nil {
		return nil, fmt.Errorf("start temporal on PostgreSQL: %w", err)
	}
	t := &Temporal{Address: conf.PublicClient.HostPort, stop: func() { _ = server.Stop() }}
	if err := registerNamespace(ctx, t.Address, opts.Namespace); err != nil {
		t.Stop()
		return nil, err
	}
	return t, nil
}

// freshSchema drops and makes a database, then sets up Temporal's schema
// in it: the version tables, then every versioned update to the newest.
func freshSchema(cfg *config.SQL, name string, logger serverlog.Logger) error {
	db := cfg.DatabaseName
	_ = sqltool.DoDropDatabase(cfg, "postgres", logger)
	cfg.DatabaseName = db
	if err := sqltool.DoCreateDatabase(cfg, "postgres", logger); err != nil {
		return fmt.Errorf("create: %w", err)
	}
	cfg.DatabaseName = db
	conn, err := sqltool.NewConnection(cfg, logger)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close()
	if err := schema.NewSetupSchemaTask(conn, &schema.SetupConfig{InitialVersion: "0.0"}, logger).Run(); err != nil {
		return fmt.Errorf("set up schema: %w", err)
	}
	if err := schema.NewUpdateSchemaTask(conn, &schema.UpdateConfig{DBName: db, SchemaName: name}, logger).Run(); err != nil {
		return fmt.Errorf("update schema %s: %w", name, err)
	}
	return nil
}

// registerNamespace registers the namespace with nurture's search
// attributes, and waits until it answers (the server learns of a new
// namespace when it next refreshes its cache).
func registerNamespace(ctx context.Context, address, namespace string) error {
	c, err := client.Dial(client.Options{HostPort: address, Namespace: namespace, Logger: sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		return fmt.Errorf("dial temporal on PostgreSQL: %w", err)
	}
	defer c.Close()
	_, err = c.WorkflowService().RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
		Namespace: namespace, WorkflowExecutionRetentionPeriod: durationpb.New(24 * time.Hour)})
	var exists *serviceerror.NamespaceAlreadyExists
	if err != nil && !errors.As(err, &exists) {
		return fmt.Errorf("register namespace %s: %w", namespace, err)
	}
	attrs := workflows.SearchAttributes()
	for {
		_, err = c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{Namespace: namespace, SearchAttributes: attrs})
		if err == nil {
			break
		}
		var notFound *serviceerror.NamespaceNotFound
		if !errors.As(err, &notFound) {
			return fmt.Errorf("add nurture's search attributes to namespace %s: %w", namespace, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("namespace %s never answered: %w", namespace, err)
		case <-time.After(500 * time.Millisecond):
		}
	}
	// The attributes take effect when the server next refreshes its
	// namespace cache.
	for {
		err := workflows.CheckSearchAttributes(ctx, c, namespace)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("namespace %s: %w", namespace, err)
		case <-time.After(500 * time.Millisecond):
		}
	}
}
