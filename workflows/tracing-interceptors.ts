/**
 * OpenTelemetry workflow interceptors, bundled only when tracing is on (lib/tracing.ts passes this
 * module in `interceptors.workflowModules`), so the default bundle and recorded histories stay as
 * they are. Not re-exported from the bundle entry: it is not a workflow.
 */
import {
  OpenTelemetryInboundInterceptor,
  OpenTelemetryInternalsInterceptor,
  OpenTelemetryOutboundInterceptor,
} from '@temporalio/interceptors-opentelemetry/lib/workflow';
import type { WorkflowInterceptorsFactory } from '@temporalio/workflow';

/** RunWorkflow / Handle* spans inbound, StartActivity / StartChildWorkflow spans outbound, exported through the sink. */
export const interceptors: WorkflowInterceptorsFactory = () => ({
  inbound: [new OpenTelemetryInboundInterceptor()],
  outbound: [new OpenTelemetryOutboundInterceptor()],
  internals: [new OpenTelemetryInternalsInterceptor()],
});
