import { DEFAULT_POLLER_ID, FIELD } from '../../functions/shared/contract';

/** The exact AWS CLI commands an operator can paste to steer the local poller (printed at start-up). */
export function operatorCommands(endpoint: string, tableName: string, pollerId = DEFAULT_POLLER_ID): string {
  const base = `AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local aws dynamodb update-item --endpoint-url ${endpoint} --region us-east-1 --table-name ${tableName} --key '{"${FIELD.id}":{"S":"${pollerId}"}}'`;
  return [
    'Steer it from another terminal (AWS CLI):',
    `  change the cadence:  ${base} --update-expression 'SET ${FIELD.waitSeconds} = :w' --expression-attribute-values '{":w":{"N":"5"}}'`,
    `  stop the loop:       ${base} --update-expression 'SET ${FIELD.running} = :r' --expression-attribute-values '{":r":{"BOOL":false}}'`,
    `  see the item:        ${base.replace('update-item', 'get-item')}`,
    `  or: npm run ctl -- --local list | status | set --every 5 | stop | start`,
  ].join('\n');
}
