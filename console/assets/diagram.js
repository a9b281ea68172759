// Draws the journey diagram with the vendored Mermaid; strict security
// keeps labels from running scripts or linking out.
mermaid.initialize({ startOnLoad: true, securityLevel: "strict", theme: "neutral", flowchart: { useMaxWidth: true } });
