/** The TLS tracer, under its historical module path (it lives in ssl/). */
export * from './ssl';
