/** Options: the tables every flag is defined in, the typed options they set, defaults, parsing. */
export * from './define';
export * from './tables';
export * from './options';
