import { type CpuConfinement, type CpuShareStatus, coreShareOf, openCpuConfinement } from './cpu-share';
import { type LocalServiceEndpoints, sandboxEnvironment } from './lambda-environment';
import type { SandboxLogLine } from './sandbox';
import { PROJECT_NODE_MODULES, SandboxWorkspace } from './sandbox-workspace';
import { SandboxedFunction } from './sandboxed-function';

/** A function as the stack defines it: its bundled code and configuration. */
export interface SandboxedFunctionDefinition {
  readonly name: string;
  readonly arn: string;
  /** The CommonJS bundle (what the template inlines as index.js). */
  readonly code: string;
  readonly memoryMb: number;
  readonly timeoutMs: number;
  /** The function's own environment variables. */
  readonly variables?: Readonly<Record<string, string>>;
}

/** Whether the CPU share is applied and what each function gets: `npm start` prints it, `--json` reports it. */
export type CpuShareReport = CpuShareStatus & {
  readonly functions: readonly {
    readonly name: string;
    readonly memoryMb: number;
    /** Fraction of one core, to four places (0.0724 for 128 MB). */
    readonly coreShare: number;
  }[];
};

export interface SandboxHostOptions {
  readonly region: string;
  readonly endpoints: LocalServiceEndpoints;
  /** The cgroup v1 `cpu` hierarchy to confine sandboxes in (default /sys/fs/cgroup/cpu). */
  readonly cgroupRoot?: string;
  readonly onLogLine?: (line: SandboxLogLine) => void;
}

/**
 * Where a local stack's sandboxes live: the workspace with their code, the CPU confinement, and the functions.
 * Sandbox processes start on demand (a stack whose functions are never invoked starts none).
 */
export class SandboxHost {
  private readonly functions: SandboxedFunction[] = [];

  private constructor(
    private readonly options: SandboxHostOptions,
    private readonly workspace: SandboxWorkspace,
    private readonly confinement: CpuConfinement,
  ) {}

  static async open(options: SandboxHostOptions): Promise<SandboxHost> {
    const workspace = await SandboxWorkspace.create();
    const confinement = await openCpuConfinement(
      options.cgroupRoot !== undefined ? { root: options.cgroupRoot } : {},
    );
    return new SandboxHost(options, workspace, confinement);
  }

  addFunction(definition: SandboxedFunctionDefinition): SandboxedFunction {
    const functionPackage = this.workspace.addFunction(definition.name, definition.code);
    const sandboxed = new SandboxedFunction({
      functionName: definition.name,
      functionArn: definition.arn,
      memoryMb: definition.memoryMb,
      timeoutMs: definition.timeoutMs,
      shimPath: this.workspace.shimPath,
      taskRoot: functionPackage.taskRoot,
      environment: sandboxEnvironment({
        functionName: definition.name,
        memoryMb: definition.memoryMb,
        region: this.options.region,
        functionPackage,
        runtimeDir: this.workspace.runtimeDir,
        nodeModules: PROJECT_NODE_MODULES,
        endpoints: this.options.endpoints,
        variables: definition.variables ?? {},
      }),
      confinement: this.confinement,
      onLogLine: this.options.onLogLine ?? (() => {}),
    });
    this.functions.push(sandboxed);
    return sandboxed;
  }

  get cpuShare(): CpuShareReport {
    return {
      ...this.confinement.status,
      functions: this.functions.map((sandboxed) => ({
        name: sandboxed.functionName,
        memoryMb: sandboxed.memoryMb,
        coreShare: Math.round(coreShareOf(sandboxed.memoryMb) * 10_000) / 10_000,
      })),
    };
  }

  /** Kills every sandbox, then removes the cgroups and the workspace. */
  async close(): Promise<void> {
    await Promise.all(this.functions.map((sandboxed) => sandboxed.close()));
    await this.confinement.close();
    this.workspace.remove();
  }
}

/**
 * One line for the operator: `CPU share: 128 MB → 7.2% of a core (cgroup v1, 20 ms period)`, or why it is not
 * applied.
 */
export function describeCpuShare(report: CpuShareReport): string {
  if (!report.applied) return `CPU share not applied: ${report.reason}; sandboxes run unconfined`;
  const percent = (share: number) => `${(share * 100).toFixed(1)}%`;
  const sizes = new Set(report.functions.map((entry) => entry.memoryMb));
  const [only] = report.functions;
  const shares =
    sizes.size === 1 && only
      ? `${only.memoryMb} MB → ${percent(only.coreShare)}`
      : report.functions
          .map((entry) => `${entry.name} ${entry.memoryMb} MB → ${percent(entry.coreShare)}`)
          .join(', ');
  return `CPU share: ${shares} of a core (${report.mechanism}, ${report.periodMs} ms period)`;
}
