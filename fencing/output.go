package fencing

// maxOutput bounds the captured output of a fencing command.
const maxOutput = 4096

// maxSnippet bounds the output a fencing error quotes.
const maxSnippet = 300
