export { type CompiledTemplate, type CompileOptions, compileTemplate, type RenderScope, type TemplateLocation } from './compile';
export { loadTemplateFolder, loadTemplatesDir, type SharedTemplateFile, type TemplateFile, type TemplateFolder } from './files';
export { parseParamsLines } from './params';
export { createTemplateRegistry, type TemplateHelper, type TemplateOptions, type TemplateRegistry, type TemplateRegistryOptions } from './registry';
