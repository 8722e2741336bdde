/**
 * `npm run ctl -- <list|watch|status|create|set|delete|start|stop|pause|resume> [ID…] <--stack NAME | --table T [--state-machine-arn ARN] | --local [--port N]>`:
 * steer a poller through its control item. See scripts/ctl/command-line.ts for the usage text.
 */
// First: a Node older than package.json's engines.node stops here with one line saying what to install.
import './require-node';
import { runCtl } from './ctl/run';

const exitCode = await runCtl(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(`${text}\n`),
  stderr: (text) => process.stderr.write(`${text}\n`),
  ...(process.stdout.isTTY ? { terminal: (text: string) => process.stdout.write(text) } : {}),
  interrupt: () => {
    const controller = new AbortController();
    // Ctrl-C, or a kill: either way `watch` shows the cursor again and exits 0.
    process.once('SIGINT', () => controller.abort());
    process.once('SIGTERM', () => controller.abort());
    return controller.signal;
  },
});
process.exitCode = exitCode;
