/** Helpers for the infra tests: find resources by what they are, not by their generated logical ids. */
export type Resources = Record<
  string,
  { Type: string; Properties: Record<string, unknown>; Condition?: string; DependsOn?: string | string[] }
>;

export interface PolicyStatement {
  readonly Action: string | string[];
  readonly Effect: string;
  readonly Resource?: unknown;
  readonly NotResource?: unknown;
}

export function resourcesOfType(resources: Resources, type: string): [string, Resources[string]][] {
  return Object.entries(resources).filter(([, resource]) => resource.Type === type);
}

/** The one resource of `type` that matches; fails when none or several do. */
export function onlyResource(
  resources: Resources,
  type: string,
  matches: (resource: Resources[string]) => boolean = () => true,
): [string, Resources[string]] {
  const found = resourcesOfType(resources, type).filter(([, resource]) => matches(resource));
  const [first] = found;
  if (first === undefined || found.length !== 1) {
    throw new Error(`expected exactly one ${type} matching; found ${found.length}`);
  }
  return first;
}

/** Every statement of every inline policy: AWS::IAM::Policy documents and roles' own Policies. */
export function allPolicyStatements(resources: Resources): { owner: string; statement: PolicyStatement }[] {
  const statements: { owner: string; statement: PolicyStatement }[] = [];
  for (const [id, resource] of Object.entries(resources)) {
    const documents: unknown[] = [];
    if (resource.Type === 'AWS::IAM::Policy') documents.push(resource.Properties.PolicyDocument);
    if (resource.Type === 'AWS::IAM::Role') {
      const policies = (resource.Properties.Policies ?? []) as { PolicyDocument: unknown }[];
      documents.push(...policies.map((policy) => policy.PolicyDocument));
    }
    for (const document of documents) {
      for (const statement of (document as { Statement: PolicyStatement[] }).Statement) {
        statements.push({ owner: id, statement });
      }
    }
  }
  return statements;
}

/** Statements of the unconditional policies attached to the role `roleId`. */
export function statementsOfRole(resources: Resources, roleId: string): PolicyStatement[] {
  return resourcesOfType(resources, 'AWS::IAM::Policy')
    .filter(([, policy]) => policy.Condition === undefined)
    .filter(([, policy]) => (policy.Properties.Roles as unknown[]).some((role) => isRef(role, roleId)))
    .flatMap(
      ([, policy]) => (policy.Properties.PolicyDocument as { Statement: PolicyStatement[] }).Statement,
    );
}

export function isRef(value: unknown, logicalId: string): boolean {
  return typeof value === 'object' && value !== null && (value as { Ref?: unknown }).Ref === logicalId;
}

/** The logical id an `Fn::GetAtt` refers to. */
export function getAttId(value: unknown): string {
  const getAttValue = (value as { 'Fn::GetAtt'?: [string, string] } | undefined)?.['Fn::GetAtt'];
  if (getAttValue === undefined) throw new Error(`not a Fn::GetAtt: ${JSON.stringify(value)}`);
  return getAttValue[0];
}

export function getAtt(logicalId: string, attribute: string) {
  return { 'Fn::GetAtt': [logicalId, attribute] };
}

export function asList<T>(value: T | T[]): T[] {
  return Array.isArray(value) ? value : [value];
}

/**
 * Evaluates the intrinsics an ARN or a name is built from (Ref of pseudo parameters, Fn::Join, Fn::Sub of a
 * string), so tests can
 * compare what CloudFormation would produce rather than the shape of the expression.
 */
export function resolve(value: unknown, refs: Record<string, string>): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && value !== null) {
    const {
      Ref: ref,
      'Fn::Join': join,
      'Fn::Sub': sub,
    } = value as {
      Ref?: string;
      'Fn::Join'?: [string, unknown[]];
      'Fn::Sub'?: string | [string, Record<string, unknown>];
    };
    const lookUp = (name: string) => {
      const resolved = refs[name];
      if (resolved === undefined) throw new Error(`no value for Ref ${name}`);
      return resolved;
    };
    if (ref !== undefined) return lookUp(ref);
    if (join !== undefined) return join[1].map((part) => resolve(part, refs)).join(join[0]);
    if (typeof sub === 'string') return sub.replace(/\$\{([^}]+)\}/g, (_, name: string) => lookUp(name));
    if (Array.isArray(sub)) {
      // The variables map of Fn::Sub's long form: each is resolved, then looked up before the refs.
      const [text, variables] = sub;
      const values = Object.fromEntries(
        Object.entries(variables).map(([name, variable]) => [name, resolve(variable, refs)]),
      );
      return text.replace(/\$\{([^}]+)\}/g, (_, name: string) => values[name] ?? lookUp(name));
    }
  }
  throw new Error(`cannot resolve ${JSON.stringify(value)}`);
}
