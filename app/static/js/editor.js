// Content editor: the body textarea becomes a Jodit rich-text editor (vendored in static/vendor/jodit).
// Progressive enhancement: the form still posts the textarea, so without this script the page works as a
// plain HTML field, and the server sanitizes whatever arrives. Jodit keeps the textarea in step; this file
// also copies the HTML source view into it on submit and reports edits as `input` events on the form so the
// unsaved-changes warning (writer.js) sees them.
document.addEventListener("DOMContentLoaded", function () {
  const area = document.querySelector("textarea[data-rich-text]");
  if (!area || typeof window.Jodit === "undefined") {
    return;
  }
  const Jodit = window.Jodit;
  const editor = Jodit.make(area, {
    language: "en",
    height: 560,
    toolbarAdaptive: false,
    toolbarSticky: false,
    buttons: ["paragraph", "|", "bold", "italic", "|", "ul", "ol", "|", "link", "table", "|",
      "undo", "redo", "|", "source"],
    controls: {
      paragraph: {
        list: Jodit.atom({ p: "Paragraph", h2: "Heading 2", h3: "Heading 3" }),
      },
    },
    // The source view is a plain textarea: the Ace editor and js-beautify would be fetched from a CDN,
    // which the page's Content-Security-Policy (script-src 'self') refuses anyway.
    sourceEditor: "area",
    beautifyHTML: false,
    // Nothing is uploaded or embedded from here: images are made and placed by the image stage.
    uploader: { insertImageAsBase64URI: false },
    // Names as the plugins register them. Resizers would write style widths the server drops anyway.
    disablePlugins: ["about", "poweredByJodit", "ai-assistant", "file", "video", "media", "print", "preview",
      "iframe", "imageProcessor", "imageProperties", "dragAndDropElement", "resizer", "resizeCells"],
    askBeforePasteHTML: false,
    askBeforePasteFromWord: false,
    defaultActionOnPaste: "insert_clear_html",
    cleanHTML: { fillEmptyParagraph: false, removeEmptyElements: false, replaceNBSP: false },
    link: { noFollowCheckbox: false, openInNewTabCheckbox: false },
    showCharsCounter: false,
    // The page heading already gives the word count (with thousands separators); no second, unformatted one.
    showWordsCounter: false,
    showXPathInStatusbar: false,
    hidePoweredByJodit: true,
  });
  editor.container.setAttribute("data-testid", "rich-editor");

  const inSourceView = function () {
    return editor.getRealMode() === Jodit.MODE_SOURCE;
  };
  const sourceText = function () {
    const mirror = editor.container.querySelector("textarea.jodit-source__mirror");
    return mirror ? mirror.value : editor.value;
  };
  let lastValue = editor.value;
  editor.events.on("change", function () {
    if (editor.value !== lastValue) {
      lastValue = editor.value;
      area.dispatchEvent(new Event("input", { bubbles: true }));
    }
  });
  area.form.addEventListener("submit", function () {
    // What was typed in the source view goes to the server as typed (it is cleaned there), without
    // waiting for the view's debounce to copy it into the visual editor.
    area.value = inSourceView() ? sourceText() : editor.value;
  });
});
