/** The process tracer, under its historical module path (it lives in process/). */
export * from './process';
