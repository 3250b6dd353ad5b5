// Pure-node replicas of bench/synth_time.py's native app and of app.py's ExampleStack (with what
// dbscale's constructs make: the same template, checked with `node bench/synth_floor.js dump DIR`),
// to measure the synth time with zero Python->jsii round trips: the floor of the ratio that
// bench/synth_time.py gates. Not run by `make bench` (it needs aws-cdk-lib from npm):
//
//   npm install --prefix bench aws-cdk-lib@2.275.0 constructs@10
//   DBSCALE_ASSET=$(.venv/bin/python -c "from dbscale.constructs._asset import staged_handler_code as s; print(s())") \
//     node bench/synth_floor.js 15        # or NOASSET=1: inline code instead of the asset
//
// Measured 2026-11-23 on this machine: native 33.8 ms, data 56.9 ms, ratio 1.68 (median of 15).
const cdk = require('aws-cdk-lib');
const { App, Stack, Tags, CfnOutput, Duration, RemovalPolicy, Names, CustomResource, TagManager, TagType, Lazy, Token, Validations } = cdk;
const ec2 = require('aws-cdk-lib/aws-ec2'), kms = require('aws-cdk-lib/aws-kms'), logs = require('aws-cdk-lib/aws-logs');
const rds = require('aws-cdk-lib/aws-rds'), redshift = require('aws-cdk-lib/aws-redshift'), iam = require('aws-cdk-lib/aws-iam');
const lambda = require('aws-cdk-lib/aws-lambda'), sm = require('aws-cdk-lib/aws-secretsmanager');
const { Construct } = require('constructs');

function nativeApp(outdir) {
  const app = new App({ outdir });
  const stack = new Stack(app, 'NativeExample');
  const flowLogs = new logs.LogGroup(stack, 'FlowLogs', { retention: logs.RetentionDays.THREE_MONTHS });
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1, flowLogs: { All: { destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogs) } } });
  const priv = vpc.selectSubnets({ subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS });
  const wkey = new kms.Key(stack, 'WarehouseKey', { enableKeyRotation: true, removalPolicy: RemovalPolicy.RETAIN });
  const wsg = new ec2.SecurityGroup(stack, 'WarehouseSg', { vpc, allowAllOutbound: false });
  const sng = new redshift.CfnClusterSubnetGroup(stack, 'WarehouseSubnets', { description: 'warehouse', subnetIds: priv.subnetIds });
  const wh = new redshift.CfnCluster(stack, 'Warehouse', { clusterType: 'multi-node', nodeType: 'ra3.xlplus', numberOfNodes: 2, dbName: 'dev', masterUsername: 'admin', manageMasterPassword: true, clusterSubnetGroupName: sng.ref, vpcSecurityGroupIds: [wsg.securityGroupId], encrypted: true, kmsKeyId: wkey.keyArn, publiclyAccessible: false });
  wh.applyRemovalPolicy(RemovalPolicy.SNAPSHOT);
  const db = new rds.DatabaseCluster(stack, 'AppDb', {
    engine: rds.DatabaseClusterEngine.auroraPostgres({ version: rds.AuroraPostgresEngineVersion.VER_16_6 }), vpc,
    writer: rds.ClusterInstance.serverlessV2('Writer'), readers: [rds.ClusterInstance.serverlessV2('Reader', { scaleWithWriter: true })],
    serverlessV2MinCapacity: 0.5, serverlessV2MaxCapacity: 4,
    storageEncryptionKey: new kms.Key(stack, 'AppDbKey', { enableKeyRotation: true, removalPolicy: RemovalPolicy.RETAIN }),
    parameters: { 'rds.force_ssl': '1' }, defaultDatabaseName: 'app', copyTagsToSnapshot: true });
  db.connections.allowDefaultPortFrom(wsg);
  Tags.of(app).add('project', 'dbscale-example');
  app.synth();
}

const POLL = 'dbscale-poll-';
let code;
class Provider extends Construct {
  constructor(stack, id, kind) {
    super(stack, id);
    this.kind = kind; const s = Stack.of(this);
    this.env = [s.partition, s.region, s.account];
    const type = kind === 'redshift' ? 'Custom::RedshiftCluster' : 'Custom::AuroraCluster';
    this.type = type; this.service = kind === 'redshift' ? 'redshift' : 'rds';
    this.logGroup = new logs.LogGroup(this, 'LogGroup', { retention: logs.RetentionDays.THREE_MONTHS });
    this.role = new iam.Role(this, 'Role', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'), description: `dbscale ${type} provider` });
    this.logGroup.grantWrite(this.role);
    if (!code || code.stack !== s) code = { stack: s, code: process.env.NOASSET ? lambda.Code.fromInline('x') : lambda.Code.fromAsset(process.env.DBSCALE_ASSET) };
    this.fn = new lambda.Function(this, 'Handler', { description: `dbscale ${type} custom resource provider`, runtime: lambda.Runtime.PYTHON_3_14, architecture: lambda.Architecture.ARM_64, handler: `dbscale.handlers.${kind === 'redshift' ? 'redshift_cluster' : 'aurora_cluster'}.handler`, code: code.code, timeout: Duration.minutes(15), memorySize: 256, role: this.role, logGroup: this.logGroup });
    const st = [
      { Sid: 'CrhelperPollingRules', Effect: 'Allow', Action: ['events:PutRule', 'events:PutTargets', 'events:RemoveTargets', 'events:DeleteRule'], Resource: this.arn('events', `rule/${POLL}*`) },
      { Sid: 'CrhelperPollingPermission', Effect: 'Allow', Action: ['lambda:AddPermission', 'lambda:RemovePermission'], Resource: this.fn.functionArn },
    ];
    const acks = [[`Resource::${this.nag('events', `rule/${POLL}*`)}`, 'crhelper polling creates one EventBridge rule per in-flight request with a generated name; ' + `the handler prefixes every such rule with '${POLL}' and the grant covers only those`]];
    const slr = (sp, name) => ({ Sid: 'CreateServiceLinkedRole', Effect: 'Allow', Action: ['iam:CreateServiceLinkedRole'], Resource: [`arn:${this.env[0]}:iam::${this.env[2]}:role/aws-service-role/${sp}/${name}`], Condition: { StringLike: { 'iam:AWSServiceName': sp } } });
    const sec = ['secretsmanager:CreateSecret', 'secretsmanager:TagResource', 'secretsmanager:DescribeSecret', 'secretsmanager:UpdateSecret', 'secretsmanager:RotateSecret', 'secretsmanager:DeleteSecret'];
    if (kind === 'redshift') {
      st.push({ Sid: 'ManagedAdminSecret', Effect: 'Allow', Action: sec, Resource: [this.arn('secretsmanager', 'secret:redshift!*')] });
      st.push({ Sid: 'NoResourceLevelActions', Effect: 'Allow', Action: ['secretsmanager:GetRandomPassword', 'redshift:DescribeTags'], Resource: ['*'] });
      st.push(slr('redshift.amazonaws.com', 'AWSServiceRoleForRedshift'));
      const r = "the admin secret is created by Redshift with a generated name under the 'redshift!' prefix (ManageMasterPassword); secretsmanager:GetRandomPassword and redshift:DescribeTags support no resource-level permissions";
      acks.push([`Resource::${this.nag('secretsmanager', 'secret:redshift!*')}`, r], ['Resource::*', r]);
    } else {
      st.push({ Sid: 'ManagedMasterUserSecret', Effect: 'Allow', Action: sec, Resource: [this.arn('secretsmanager', 'secret:rds!*')] });
      st.push({ Sid: 'DescribeInstancesByCluster', Effect: 'Allow', Action: ['rds:DescribeDBInstances'], Resource: [this.arn('rds', 'db:*')] });
      st.push({ Sid: 'DefaultGroups', Effect: 'Allow', Action: REF, Resource: [this.arn('rds', 'pg:default.*'), this.arn('rds', 'og:default:*'), this.arn('rds', 'cluster-pg:default.*')] });
      st.push({ Sid: 'NoResourceLevelActions', Effect: 'Allow', Action: ['secretsmanager:GetRandomPassword'], Resource: ['*'] });
      st.push(slr('rds.amazonaws.com', 'AWSServiceRoleForRDS'));
      const r = 'aurora fixed';
      for (const x of [this.nag('secretsmanager', 'secret:rds!*'), this.nag('rds', 'db:*'), this.nag('rds', 'pg:default.*'), this.nag('rds', 'og:default:*'), this.nag('rds', 'cluster-pg:default.*'), '*']) acks.push([`Resource::${x}`, r]);
    }
    this.policy = new iam.Policy(this, 'Policy', { roles: [this.role], document: iam.PolicyDocument.fromJson({ Version: '2012-10-17', Statement: st }) });
    this.val = Validations.of(this);
    this.val.acknowledge(...acks.map(([f, reason]) => ({ id: `AwsSolutions-IAM5[${f}]`, reason })));
    this.statements = {};
  }
  arn(service, res) { return `arn:${this.env[0]}:${service}:${this.env[1]}:${this.env[2]}:${res}`; }
  nag(service, res) { return `arn:<AWS::Partition>:${service}:<AWS::Region>:<AWS::AccountId>:${res}`; }
  allow(sid, actions, resources, conditions) {
    const e = this.statements[sid];
    if (!e) { const s = new iam.PolicyStatement({ sid, actions, resources, conditions }); this.statements[sid] = s; this.role.addToPolicy(s); }
    else e.addResources(...resources);
  }
  register(resource, id, keyArn, subnetGroup, pg) {
    if (this.kind === 'redshift') {
      this.allow('Clusters', RS_CLUSTER, [this.arn('redshift', `cluster:${id}`)]);
      this.allow('FinalSnapshots', ['redshift:CreateClusterSnapshot', 'redshift:CreateTags'], [this.arn('redshift', `snapshot:${id}/*`)]);
      this.val.acknowledge({ id: `AwsSolutions-IAM5[Resource::${this.nag('redshift', `snapshot:${id}/*`)}]`, reason: 'final snapshots' });
    } else {
      this.allow('Clusters', AU_CLUSTER, [this.arn('rds', `cluster:${id}`)]);
      this.allow('Instances', AU_INSTANCE, [this.arn('rds', `db:${id}-*`)]);
      this.allow('FinalSnapshots', ['rds:CreateDBClusterSnapshot', 'rds:DeleteDBCluster', 'rds:AddTagsToResource'], [this.arn('rds', `cluster-snapshot:${id}*`)]);
      this.allow('ClusterGroups', REF, [this.arn('rds', `subgrp:${subnetGroup}`), this.arn('rds', `cluster-pg:${pg}`)]);
      this.val.acknowledge({ id: `AwsSolutions-IAM5[Resource::${this.nag('rds', `db:${id}-*`)}]`, reason: 'x' }, { id: `AwsSolutions-IAM5[Resource::${this.nag('rds', `cluster-snapshot:${id}*`)}]`, reason: 'x' });
    }
    this.allow('KmsGrantForCluster', ['kms:CreateGrant'], [keyArn], { Bool: { 'kms:GrantIsForAWSResource': 'true' } });
    this.allow('KmsDescribeKey', ['kms:DescribeKey'], [keyArn]);
    resource.node.addDependency(this.policy);
  }
}
const REF = ['rds:CreateDBCluster', 'rds:ModifyDBCluster', 'rds:CreateDBInstance', 'rds:ModifyDBInstance'];
const RS_CLUSTER = ['redshift:CreateCluster', 'redshift:DescribeClusters', 'redshift:ModifyCluster', 'redshift:ResizeCluster', 'redshift:DescribeResize', 'redshift:PauseCluster', 'redshift:ResumeCluster', 'redshift:DeleteCluster', 'redshift:CreateTags', 'redshift:DeleteTags'];
const AU_CLUSTER = ['rds:CreateDBCluster', 'rds:DescribeDBClusters', 'rds:ModifyDBCluster', 'rds:FailoverDBCluster', 'rds:StartDBCluster', 'rds:StopDBCluster', 'rds:DeleteDBCluster', 'rds:CreateDBInstance', 'rds:AddTagsToResource', 'rds:RemoveTagsFromResource', 'rds:ListTagsForResource'];
const AU_INSTANCE = ['rds:CreateDBInstance', 'rds:ModifyDBInstance', 'rds:DeleteDBInstance', 'rds:DescribeDBInstances', 'rds:AddTagsToResource', 'rds:RemoveTagsFromResource', 'rds:ListTagsForResource'];

function providerOf(stack, kind) {
  const id = kind === 'redshift' ? 'DbscaleRedshiftClusterProvider' : 'DbscaleAuroraClusterProvider';
  return stack.node.tryFindChild(id) || new Provider(stack, id, kind);
}

class Cluster extends Construct {
  constructor(scope, id, kind, vpc, props, port) {
    super(scope, id);
    const type = kind === 'redshift' ? 'Custom::RedshiftCluster' : 'Custom::AuroraCluster';
    this.tags = new TagManager(TagType.KEY_VALUE, type);
    const raw = Names.uniqueResourceName(this, { maxLength: 63, separator: '-' }).toLowerCase();
    this.identifier = raw.replace(/[^a-z0-9-]/g, '').replace(/-{2,}/g, '-').replace(/^-+|-+$/g, '');
    const subnets = vpc.selectSubnets({});
    const label = kind === 'redshift' ? 'Redshift' : 'Aurora';
    const desc = `dbscale ${label} cluster ${this.node.path}`;
    const sng = kind === 'redshift' ? new redshift.CfnClusterSubnetGroup(this, 'SubnetGroup', { description: desc, subnetIds: subnets.subnetIds })
      : new rds.CfnDBSubnetGroup(this, 'SubnetGroup', { dbSubnetGroupDescription: desc, subnetIds: subnets.subnetIds });
    const sg = new ec2.SecurityGroup(this, 'SecurityGroup', { vpc, description: desc, allowAllOutbound: false });
    const key = new kms.Key(this, 'Key', { description: desc, enableKeyRotation: true, removalPolicy: RemovalPolicy.RETAIN });
    let pg;
    if (kind !== 'redshift') pg = new rds.CfnDBClusterParameterGroup(this, 'ParameterGroup', { description: `${desc}: TLS required`, family: 'aurora-postgresql16', parameters: { 'rds.force_ssl': '1' } });
    const provider = providerOf(Stack.of(this), kind);
    const p = { ClusterIdentifier: this.identifier, ...props(sng.ref, [sg.securityGroupId], key.keyArn, pg && pg.ref) };
    p.Tags = Lazy.uncachedAny({ produce: () => { const t = this.tags.renderTags(); return t && t.length ? t : undefined; } });
    this.resource = new CustomResource(this, 'Resource', { serviceToken: provider.fn.functionArn, resourceType: type, properties: p, serviceTimeout: Duration.seconds(3600) });
    provider.register(this.resource, this.identifier, key.keyArn, sng.ref, pg && pg.ref);
    this.endpoint = new rds.Endpoint(this.resource.getAttString('Endpoint.Address'), Token.asNumber(this.resource.getAtt('Endpoint.Port')));
    this.secret = sm.Secret.fromSecretCompleteArn(this, 'Secret', this.resource.getAttString('SecretArn'));
    this.connections = new ec2.Connections({ securityGroups: [sg], defaultPort: ec2.Port.tcp(port) });
  }
}

function dataApp(outdir) {
  const app = new App({ outdir });
  const stack = new Stack(app, 'DbscaleExample', { description: 'dbscale example: Redshift and Aurora' });
  const flowLogs = new logs.LogGroup(stack, 'FlowLogs', { retention: logs.RetentionDays.THREE_MONTHS });
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1, flowLogs: { All: { destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogs) } } });
  const wh = new Cluster(stack, 'Warehouse', 'redshift', vpc, (sng, sgs, key) => ({ NodeType: 'ra3.xlplus', NumberOfNodes: 2, Paused: false, DBName: 'dev', MasterUsername: 'admin', ClusterSubnetGroupName: sng, VpcSecurityGroupIds: sgs, Encrypted: true, KmsKeyId: key, Port: 5439, PubliclyAccessible: false, ResizeType: 'auto', SkipFinalSnapshot: false, AdoptExisting: false, WaitForCompletion: true, Autoscaled: false }), 5439);
  const db = new Cluster(stack, 'AppDb', 'aurora', vpc, (sng, sgs, key, pg) => ({ Engine: 'aurora-postgresql', EngineVersion: '16.6', InstanceClass: 'db.serverless', ServerlessV2MinCapacity: 0.5, ServerlessV2MaxCapacity: 4, ReaderCount: 1, Paused: false, DatabaseName: 'app', DBSubnetGroupName: sng, VpcSecurityGroupIds: sgs, DBClusterParameterGroupName: pg, StorageEncrypted: true, KmsKeyId: key, EnableIAMDatabaseAuthentication: false, CopyTagsToSnapshot: true, BackupRetentionPeriod: 7, SkipFinalSnapshot: false, AdoptExisting: false, WaitForCompletion: true, Autoscaled: false }), 5432);
  db.connections.allowDefaultPortFrom(wh, 'Redshift federated queries');
  new CfnOutput(stack, 'WarehouseEndpoint', { value: wh.endpoint.socketAddress });
  new CfnOutput(stack, 'WarehouseSecretArn', { value: wh.secret.secretArn });
  new CfnOutput(stack, 'AppDbEndpoint', { value: db.endpoint.socketAddress });
  new CfnOutput(stack, 'AppDbSecretArn', { value: db.secret.secretArn });
  Tags.of(app).add('project', 'dbscale-example');
  app.synth();
}

const fs = require('fs'), os = require('os'), path = require('path');
function timed(fn) { const d = fs.mkdtempSync(path.join(os.tmpdir(), 'jsbench-')); const t = process.hrtime.bigint(); fn(d); const ms = Number(process.hrtime.bigint() - t) / 1e6; fs.rmSync(d, { recursive: true }); return ms; }
if (process.argv[2] === 'dump') { dataApp(process.argv[3] + '/data'); nativeApp(process.argv[3] + '/native'); process.exit(0); }
const rounds = +(process.argv[2] || 15);
for (let i = 0; i < 3; i++) { timed(nativeApp); timed(dataApp); }
const s = { native: [], data: [] };
for (let i = 0; i < rounds; i++) { s.native.push(timed(nativeApp)); s.data.push(timed(dataApp)); }
const med = a => a.slice().sort((x, y) => x - y)[Math.floor(a.length / 2)];
console.log(`pure node, median of ${rounds}: native ${med(s.native).toFixed(1)} ms, data ${med(s.data).toFixed(1)} ms, ratio ${(med(s.data) / med(s.native)).toFixed(2)}`);
