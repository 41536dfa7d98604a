/**
 * The GGUF container (llama.cpp's model file): the GGML type table, typed metadata, the reader
 * (`openGGUF`, `parseGGUFHeader`) and the layout planner (`planGGUF`). One import for all of it;
 * the parts live in gguf-types.ts, gguf-metadata.ts, gguf-reader.ts and gguf-writer.ts.
 * Browser-safe.
 */
export * from './gguf-types.js';
export * from './gguf-metadata.js';
export * from './gguf-reader.js';
export * from './gguf-writer.js';
