export { compileTemplate, type CompiledTemplate, type TemplateLocation } from './compile';
export { loadTemplatesDir, type TemplateFile } from './files';
export { parseParamsLines } from './params';
