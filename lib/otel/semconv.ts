/**
 * The OpenTelemetry attribute names agentsight sets: the GenAI semantic
 * conventions (development status, v1.41 names: gen_ai.provider.name, not the
 * deprecated gen_ai.system), and the general process, container, host and
 * session ones. The few of its own are under `agentsight.`.
 */

export const GEN_AI = {
  OPERATION: 'gen_ai.operation.name',
  PROVIDER: 'gen_ai.provider.name',
  REQUEST_MODEL: 'gen_ai.request.model',
  REQUEST_MAX_TOKENS: 'gen_ai.request.max_tokens',
  REQUEST_TEMPERATURE: 'gen_ai.request.temperature',
  REQUEST_TOP_P: 'gen_ai.request.top_p',
  REQUEST_STREAM: 'gen_ai.request.stream',
  RESPONSE_MODEL: 'gen_ai.response.model',
  RESPONSE_ID: 'gen_ai.response.id',
  RESPONSE_FINISH_REASONS: 'gen_ai.response.finish_reasons',
  RESPONSE_TIME_TO_FIRST_CHUNK: 'gen_ai.response.time_to_first_chunk',
  USAGE_INPUT: 'gen_ai.usage.input_tokens',
  USAGE_OUTPUT: 'gen_ai.usage.output_tokens',
  USAGE_CACHE_READ: 'gen_ai.usage.cache_read.input_tokens',
  /** tokens written to the provider's cache: the conventions' name since the GenAI registry moved out of semconv 1.41 */
  USAGE_CACHE_WRITE: 'gen_ai.usage.cache_write.input_tokens',
  /** the same, by its name up to semconv 1.41, which backends still read: both are set */
  USAGE_CACHE_CREATION: 'gen_ai.usage.cache_creation.input_tokens',
  USAGE_REASONING: 'gen_ai.usage.reasoning.output_tokens',
  AGENT_NAME: 'gen_ai.agent.name',
  CONVERSATION_ID: 'gen_ai.conversation.id',
  TOOL_NAME: 'gen_ai.tool.name',
  TOOL_CALL_ID: 'gen_ai.tool.call.id',
  TOOL_TYPE: 'gen_ai.tool.type',
  TOOL_CALL_ARGUMENTS: 'gen_ai.tool.call.arguments',
  TOOL_CALL_RESULT: 'gen_ai.tool.call.result',
  INPUT_MESSAGES: 'gen_ai.input.messages',
  OUTPUT_MESSAGES: 'gen_ai.output.messages',
  SYSTEM_INSTRUCTIONS: 'gen_ai.system_instructions',
  TOKEN_TYPE: 'gen_ai.token.type',
} as const;

export const ATTR = {
  SERVER_ADDRESS: 'server.address',
  SERVER_PORT: 'server.port',
  HTTP_STATUS: 'http.response.status_code',
  ERROR_TYPE: 'error.type',
  SESSION_ID: 'session.id',
  USER_ID: 'user.id',
  PROCESS_PID: 'process.pid',
  PROCESS_PARENT_PID: 'process.parent_pid',
  PROCESS_EXE_NAME: 'process.executable.name',
  PROCESS_EXE_PATH: 'process.executable.path',
  PROCESS_COMMAND_LINE: 'process.command_line',
  PROCESS_EXIT_CODE: 'process.exit.code',
  PROCESS_OWNER: 'process.owner',
  CONTAINER_ID: 'container.id',
  K8S_POD_UID: 'k8s.pod.uid',
  HOST_NAME: 'host.name',
  HOST_ARCH: 'host.arch',
  OS_TYPE: 'os.type',
  SERVICE_NAME: 'service.name',
  SERVICE_VERSION: 'service.version',
} as const;

/** agentsight's own attributes. */
export const AS = {
  COST_USD: 'agentsight.cost_usd',
  LLM_CALL_ID: 'agentsight.llm.call_id',
  LLM_CALLS: 'agentsight.llm.calls',
  API: 'agentsight.llm.api',
  INCOMPLETE: 'agentsight.incomplete',
  SIGNAL: 'agentsight.process.signal',
  CONTENT_TRUNCATED: 'agentsight.content.truncated',
  EVENT_SOURCE: 'agentsight.event.source',
  DROP_CAUSE: 'agentsight.drop.cause',
} as const;
