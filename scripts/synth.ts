/**
 * `npm run synth`: synthesizes the CDK app in-process and writes SubMinuteLambdaExecutor.yaml, the template
 * that deploys without the CDK (`aws cloudformation deploy --template-file`, no bucket, no bootstrap),
 * SubMinuteLambdaExecutor-fleet.yaml, the same for the fleet variant (shards serve the pollers), and
 * SubMinuteLambdaExecutor-monitoring.yaml, the alarms and dashboard those templates have no room for.
 * Deterministic: test/infra/template.test.ts fails when the committed file differs from a fresh render.
 */
// First: a Node older than package.json's engines.node stops here with one line saying what to install.
import './require-node';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Document, isScalar, isSeq, type Node, Scalar, visit } from 'yaml';
import { createApp, createMonitoringApp } from '../infra/app';
import { MONITORING_STACK_NAME } from '../infra/scheduler-monitoring-stack';
import { STACK_NAME } from '../infra/sub-minute-executor-stack';

export const TEMPLATE_PATH = fileURLToPath(new URL(`../${STACK_NAME}.yaml`, import.meta.url));
/** The fleet variant's inline template (README "Fleet"). */
export const FLEET_TEMPLATE_PATH = fileURLToPath(new URL(`../${STACK_NAME}-fleet.yaml`, import.meta.url));
/** The alarms and dashboard for a stack deployed from TEMPLATE_PATH, which has no room for them. */
export const MONITORING_TEMPLATE_PATH = fileURLToPath(
  new URL(`../${MONITORING_STACK_NAME}.yaml`, import.meta.url),
);

/** `aws cloudformation deploy --template-file` uploads a template up to this size without an S3 bucket. */
export const MAX_TEMPLATE_BYTES = 51_200;

const HEADER = [
  ' Sub-Minute Lambda Executor: CloudFormation template with the functions inlined (no assets, no CDK bootstrap).',
  ' Generated from infra/ by `npm run synth`: do not edit; change the CDK app and run it again.',
  ' Deploy: aws cloudformation deploy --template-file SubMinuteLambdaExecutor.yaml --stack-name SubMinute \\',
  '           --capabilities CAPABILITY_IAM --parameter-overrides running=true waitseconds=5',
].join('\n');

/** Shorter than HEADER: the fleet's template has fewer bytes to spare, and README "Fleet" says the rest. */
const FLEET_HEADER = [
  ' Sub-Minute Lambda Executor, fleet variant (README "Fleet"): functions inlined, no assets, no CDK bootstrap.',
  ' Generated from infra/ by `npm run synth`: do not edit; change the CDK app and run it again.',
  ' Deploy: aws cloudformation deploy --template-file SubMinuteLambdaExecutor-fleet.yaml --stack-name SubMinute \\',
  "   --capabilities CAPABILITY_IAM   (then start the fleet: the StartCommand output, input '{}')",
].join('\n');

type Template = Record<string, unknown> & { Resources?: Record<string, Record<string, unknown>> };

/**
 * The stack's template as CloudFormation receives it, minus what only the CDK toolkit reads; `fleet` for the fleet
 * variant's.
 */
export function synthesizeTemplate(options: { readonly fleet?: boolean } = {}): Template {
  const outdir = mkdtempSync(join(tmpdir(), 'sub-minute-synth-'));
  try {
    // No alarms or dashboard: they come with the monitoring template (synthesizeMonitoringTemplate).
    const { app } = createApp(outdir, { monitoring: false, fleet: options.fleet === true });
    return stripCdkMetadata(app.synth().getStackByName(STACK_NAME).template as Template);
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

/** The monitoring stack's template (alarms, topic, dashboard), deployed next to the inline template's stack. */
export function synthesizeMonitoringTemplate(): Template {
  const outdir = mkdtempSync(join(tmpdir(), 'sub-minute-synth-'));
  try {
    const { app } = createMonitoringApp(outdir);
    return stripCdkMetadata(app.synth().getStackByName(MONITORING_STACK_NAME).template as Template);
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

const MONITORING_HEADER = [
  ' Sub-Minute Lambda Executor monitoring: alarms, their SNS topic and a dashboard for a control table.',
  ' Generated from infra/ by `npm run synth`: do not edit; change the CDK app and run it again.',
  ' Deploy next to a stack made from SubMinuteLambdaExecutor.yaml (README "Metrics and alarms"):',
  '   aws cloudformation deploy --template-file SubMinuteLambdaExecutor-monitoring.yaml \\',
  '     --stack-name SubMinute-monitoring --parameter-overrides ControlTableName=… FailedTicksQueueUrl=… AlarmEmail=…',
].join('\n');

/**
 * The templates' YAML style: no folded lines; a list's items at the indentation of the key that holds them (as in
 * CloudFormation's own samples); and on one line (flow style) a list of plain values (`Action: [sqs:SendMessage,
 * sqs:GetQueueUrl]`) and a map of one plain entry, which is how a long-form intrinsic function reads best
 * (`Resource: {Fn::GetAtt: [Queue, Arn]}`, `Principal: {Service: lambda.amazonaws.com}`). That is how templates
 * are written by hand, and each line it saves is a dozen bytes of indentation of the 51,200 an inline template may
 * have.
 */
const YAML_STYLE = { lineWidth: 0, indentSeq: false, flowCollectionPadding: false } as const;

function isPlainValue(node: unknown): boolean {
  return isScalar(node) || (isSeq(node) && node.items.every((item) => isScalar(item)));
}

/** Puts lists of plain values, and maps of one plain entry (`{Ref: Table}`), on one line. */
function useFlowStyle(document: Document<Node, true>): void {
  visit(document, {
    Seq(_, seq) {
      if (isPlainValue(seq)) seq.flow = true;
    },
    Map(_, map) {
      const [pair, ...others] = map.items;
      if (pair !== undefined && others.length === 0 && isPlainValue(pair.value)) map.flow = true;
    },
  });
}

/** The monitoring template as YAML, in the same style as the inline template. */
export function renderMonitoringTemplateYaml(template: Template = synthesizeMonitoringTemplate()): string {
  const document = new Document(template, { version: '1.1' });
  useFlowStyle(document);
  document.commentBefore = MONITORING_HEADER;
  return document.toString(YAML_STYLE);
}

/** Drops the CDKMetadata resource and condition and `aws:cdk:*` resource metadata, should any be there. */
export function stripCdkMetadata(template: Template): Template {
  const { CDKMetadata: _metadata, ...resources } = template.Resources ?? {};
  for (const resource of Object.values(resources)) {
    const metadata = resource.Metadata as Record<string, unknown> | undefined;
    if (metadata === undefined) continue;
    for (const key of Object.keys(metadata))
      if (key.startsWith('aws:cdk:') || key === 'aws:asset:path') delete metadata[key];
    if (Object.keys(metadata).length === 0) delete resource.Metadata;
  }
  const stripped: Template = { ...template, Resources: resources };
  const conditions = template.Conditions as Record<string, unknown> | undefined;
  if (conditions !== undefined) {
    const { CDKMetadataAvailable: _available, ...rest } = conditions;
    if (Object.keys(rest).length > 0) stripped.Conditions = rest;
    else delete stripped.Conditions;
  }
  return stripped;
}

/**
 * The template as YAML: long-form intrinsics (`Fn::GetAtt:`) in the style of YAML_STYLE, and inline code as literal
 * blocks (readable, no escaping). YAML 1.1 quoting, so CloudFormation's parser reads every scalar as intended.
 */
export function renderTemplateYaml(template: Template = synthesizeTemplate()): string {
  return renderInlineTemplate(template, HEADER);
}

/** The fleet variant's template as YAML, in the same style. */
export function renderFleetTemplateYaml(template: Template = synthesizeTemplate({ fleet: true })): string {
  return renderInlineTemplate(template, FLEET_HEADER);
}

function renderInlineTemplate(template: Template, header: string): string {
  const document = new Document(template, { version: '1.1' });
  useFlowStyle(document);
  visit(document, {
    Pair(_, pair) {
      if (isScalar(pair.key) && pair.key.value === 'ZipFile' && isScalar(pair.value)) {
        pair.value.type = Scalar.BLOCK_LITERAL;
      }
    },
  });
  document.commentBefore = header;
  return document.toString(YAML_STYLE);
}

function main(): void {
  const monitoring = renderMonitoringTemplateYaml();
  writeFileSync(MONITORING_TEMPLATE_PATH, monitoring);
  console.log(
    `wrote ${MONITORING_TEMPLATE_PATH}: ${Buffer.byteLength(monitoring).toLocaleString('en-US')} bytes`,
  );
  writeInlineTemplate(TEMPLATE_PATH, renderTemplateYaml());
  writeInlineTemplate(FLEET_TEMPLATE_PATH, renderFleetTemplateYaml());
}

function writeInlineTemplate(path: string, yaml: string): void {
  const bytes = Buffer.byteLength(yaml);
  writeFileSync(path, yaml);
  console.log(
    `wrote ${path}: ${bytes.toLocaleString('en-US')} bytes (limit ${MAX_TEMPLATE_BYTES.toLocaleString('en-US')})`,
  );
  if (bytes > MAX_TEMPLATE_BYTES) {
    console.error(
      `${path} is too big to deploy without an S3 bucket: shrink the inline code or drop resources`,
    );
    process.exitCode = 1;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) main();
