// Every sentence TabSense shows to people, in one table so the wording stays consistent.
// A classic script that only sets globals: the service worker imports it, extension pages
// load it with <script>, and the content script gets it through scripting.executeScript.

globalThis.STRINGS = Object.freeze({
  menuTitle: 'Classify image with TabSense',

  // Overlay drawn over the picture.
  overlayPending: 'Classifying…',
  overlayDismiss: 'Dismiss',
  overlayTopN: 'Top {count} guesses',
  overlayFooter: '{model} · {ms} ms',
  overlayCopy: 'Copy',
  overlayCopied: 'Copied',
  overlayNoImage: 'TabSense could not find this picture on the page, so the answer is shown here.',
  // The in-browser model answered because the helper app is missing (keyed by the host's failure).
  overlayInBrowser: {
    host_not_installed: 'Helper app not installed: classified in the browser (slower).',
    host_forbidden: 'Helper app not installed for this extension: classified in the browser (slower).',
    ws_unavailable: 'Helper app not reachable: classified in the browser (slower).',
  },

  // Popup.
  popupTitle: 'TabSense',
  popupChecking: 'Checking the helper app…',
  popupConnected: 'Connected',
  popupNotConnected: 'Not connected',
  popupInBrowser: 'Classifying in the browser',
  popupInBrowserHint: 'Without the helper app, pictures are classified by a slower model inside the browser ({model}). TabSense switches back to the helper app as soon as it answers.',
  popupTransportNative: 'built-in connection',
  popupTransportWebSocket: 'WebSocket on port {port}',
  popupVersion: 'Helper version',
  popupModel: 'Model',
  popupLatency: 'Last answer',
  popupLatencyValue: '{ms} ms',
  popupLatencyNone: 'none yet',
  popupNoModel: 'none available',
  popupHowTo: 'Right-click any picture and choose “Classify image with TabSense”.',
  popupInstallIntro: 'To install the helper app, run this in the TabSense folder, then reopen this window:',
  popupOptions: 'Options',
  popupVoice: 'Voice commands',
  popupListenStart: 'Start listening',
  popupListenStop: 'Stop listening',
  popupListening: 'Listening. Say “next tab”, “previous tab”, “close tab”, “new tab”, “go back” or “reload”.',
  popupNotListening: 'Control your tabs by voice. The sound stays on this computer.',
  popupShortcut: 'Shortcut: {keys}',
  popupNoShortcut: 'No shortcut yet: choose one at chrome://extensions/shortcuts',
  popupLastHeard: 'Last heard: “{phrase}”',
  popupVoiceExperimental: 'Experimental: the voice model has not passed validation, so it may miss commands or switch tabs on its own.',
  // Shown while listening at a sensitivity other than the recommended one (keyed by level).
  popupSensitivity: {
    low: 'Sensitivity: low (may miss more commands)',
    high: 'Sensitivity: high (more mistaken switches)',
  },

  // Voice commands: the toolbar while listening, the phrases, the permission page.
  actionTitle: 'TabSense',
  voiceBadge: 'MIC',
  voiceListeningTitle: 'TabSense is listening for voice commands',
  // Why TabSense has a background document (shown by Chrome): both of its jobs.
  offscreenReason: 'Hear spoken tab commands from the microphone, and classify pictures in the browser when the TabSense helper app is not installed.',
  commandPhrases: {
    next_tab: 'next tab',
    previous_tab: 'previous tab',
    close_tab: 'close tab',
    new_tab: 'new tab',
    go_back: 'go back',
    reload: 'reload',
  },
  permissionTitle: 'Let TabSense hear voice commands',
  permissionWhy: 'TabSense listens for a few spoken commands: “next tab”, “previous tab”, “close tab”, “new tab”, “go back” and “reload”. The sound goes only to the TabSense helper app on this computer, never to the internet, and only while listening is on.',
  permissionAsking: 'Your browser is asking whether TabSense may use the microphone: choose Allow.',
  permissionGranted: 'Thank you. TabSense is now listening; you can close this tab. Turn listening off from the TabSense button or with its shortcut.',
  permissionDenied: 'TabSense may not use the microphone, so it cannot hear voice commands.',
  permissionDeniedFix: 'Choose “Ask again”, or allow the microphone for TabSense in the browser’s site settings (the icon at the left of the address bar).',
  permissionRetry: 'Ask again',

  // Teaching TabSense the user's own voice (enroll/enroll.html), and where it is offered.
  enrollTitle: 'Teach TabSense your voice',
  enrollIntro: 'Say each command three times, as you will say it when you use it: click Record, speak, and TabSense stops by itself when you pause.',
  enrollAnyLanguage: 'Say it your way, in any language: TabSense learns the phrase you teach it.',
  enrollPrivacy: 'Your takes stay on this computer, with the TabSense helper app.',
  enrollExample: 'For example “{phrase}”',
  // What each command does: the heading of its takes (the phrase itself is the user's choice).
  enrollActions: {
    next_tab: 'Go to the next tab',
    previous_tab: 'Go to the previous tab',
    close_tab: 'Close the tab',
    new_tab: 'Open a new tab',
    go_back: 'Go back a page',
    reload: 'Reload the page',
  },
  enrollTake: 'Take {number}',
  enrollRecord: 'Record',
  enrollRerecord: 'Record again',
  enrollRecording: 'Listening… say it now',
  enrollChecking: 'Checking…',
  enrollPlay: 'Play',
  enrollRemove: 'Delete',
  enrollNotRecorded: 'Not recorded yet.',
  enrollSavedEarlier: 'Recorded earlier.',
  enrollReady: 'Ready',
  enrollNotReady: '{ok} of 3 good takes',
  enrollChecked: 'Checked against {count} stretches of everyday speech: none sounds like it.',
  enrollAllReady: 'TabSense knows your voice for every command you use.',
  enrollStart: 'Start listening',
  enrollListening: 'TabSense is listening with your voice profile. You can close this tab.',
  enrollListeningGeneric: 'TabSense is listening with the generic model (less accurate). You can close this tab.',
  enrollListeningNow: 'TabSense is listening. You can close this tab.',
  enrollPaused: 'Listening is off while you teach TabSense; start it again below when you are done.',
  enrollSkip: 'Skip — use the generic model (less accurate)',
  enrollReset: 'Reset my voice profile',
  enrollResetConfirm: 'Delete every take of your voice? TabSense then uses the generic model (less accurate) until you teach it again.',
  enrollResetYes: 'Delete my takes',
  enrollResetNo: 'Keep them',
  enrollResetDone: 'Your voice profile was deleted.',
  enrollNoCommands: 'No voice command is turned on: choose some in TabSense options first.',
  // Said when a take could not be checked (keyed by error code, like voiceErrors).
  enrollErrors: {
    protocol_mismatch: {
      text: 'This version of the TabSense helper app cannot learn your voice yet.',
      fix: 'Update TabSense, then run {installCommand} in its folder.',
      command: 'installCommand',
    },
    host_disconnected: {
      text: 'The TabSense helper app stopped while checking this take.',
      fix: 'Record it again: TabSense restarts the helper app by itself.',
    },
    timeout: {
      text: 'The TabSense helper app took too long to check this take.',
      fix: 'Record it again; if it keeps happening, run {checkCommand}.',
      command: 'checkCommand',
    },
    model_not_found: {
      text: 'The TabSense helper app has no voice model to learn your voice with.',
      fix: 'Update TabSense, then run {installCommand} in its folder.',
      command: 'installCommand',
    },
    model_missing: {
      text: 'The voice model TabSense learns your voice with is not installed.',
      fix: 'Run {fetchModelsCommand}, then record again.',
      command: 'fetchModelsCommand',
    },
    model_corrupt: {
      text: 'The voice model TabSense learns your voice with is damaged.',
      fix: 'Run {fetchModelsCommand} to replace it, then record again.',
      command: 'fetchModelsCommand',
    },
    bad_audio: {
      text: 'The TabSense helper app could not read this take.',
      fix: 'Record it again; if it keeps happening, update TabSense and run {installCommand}.',
      command: 'installCommand',
    },
    audio_too_long: {
      text: 'This take is longer than the TabSense helper app accepts.',
      fix: 'Record it again and say only the command.',
    },
    microphone_denied: {
      text: 'TabSense may not use the microphone, so it cannot record your voice.',
      fix: 'Allow the microphone for TabSense in the browser’s site settings (the icon at the left of the address bar), then record again.',
    },
    microphone_missing: {
      text: 'No microphone was found.',
      fix: 'Connect a microphone, then record again.',
    },
    microphone_busy: {
      text: 'The microphone could not be opened; another program may be using it.',
      fix: 'Close the other program, then record again.',
    },
    microphone_failed: {
      text: 'TabSense could not start the microphone.',
      fix: 'Record again; if it keeps happening, restart the browser.',
    },
    unknown: {
      text: 'Something went wrong, so TabSense could not check this take.',
      fix: 'Record it again; if it keeps happening, run {checkCommand}.',
      command: 'checkCommand',
    },
  },
  // Popup: whether listening uses the user's own voice.
  popupVoiceProfile: 'Voice: your voice (profile)',
  popupVoicePartly: 'Voice: your voice (profile) for {taught}; generic model for the rest — less accurate',
  popupVoiceGeneric: 'Voice: generic model — less accurate',
  teachVoice: 'Teach TabSense your voice',
  optionsYourVoice: 'Your voice',
  optionsYourVoiceWhy: 'TabSense hears you best once you have said each command three times for it.',

  // Options page.
  optionsTitle: 'TabSense options',
  optionsTransport: 'How TabSense talks to its helper app',
  optionsNative: 'Built-in connection (recommended): the browser starts the helper app when needed.',
  optionsWebSocket: 'WebSocket: connect to a helper app you started yourself with “tabsense serve --ws”.',
  optionsPort: 'Port',
  optionsToken: 'Token (print it with “tabsense token”)',
  optionsSave: 'Save',
  optionsSaved: 'Saved.',
  optionsTest: 'Test connection',
  optionsTestOk: 'Connected to helper version {version}.',
  optionsBadPort: 'The port must be a whole number between 1024 and 65535.',
  optionsNeedToken: 'Paste the token printed by “tabsense token”.',
  optionsVoice: 'Voice commands TabSense acts on',
  optionsVoiceWhy: 'Each command you turn on is one more phrase that could be misheard while you talk. “Next tab” and “previous tab” are on by default.',
  optionsNeedCommand: 'Choose at least one voice command.',
  optionsVoiceModel: 'Voice model',
  optionsExperimentalVoice: 'Use the voice model even though it has not passed validation (experimental: it may miss commands or switch tabs on its own)',
  optionsSensitivity: 'Voice sensitivity',
  optionsSensitivityLow: 'Fewer mistaken switches (may miss more commands)',
  optionsSensitivityNormal: 'Balanced (recommended)',
  optionsSensitivityHigh: 'Hears more (for voices it misses; more mistaken switches)',
  optionsImageModel: 'Picture classification',
  optionsImageFastest: 'Fastest: one network (MobileNetV2)',
  optionsImageAccurate: 'Most accurate: two networks combined (about one more millisecond per picture)',

  // Commands people are told to run. {python} depends on the operating system.
  installCommand: '{python} install_host.py',
  checkCommand: '{python} install_host.py --check',
  fetchModelsCommand: 'tabsense models fetch',
  serveCommand: 'tabsense serve --ws --port {port}',

  // One sentence per failure, and how to fix it when there is a fix.
  errors: {
    host_not_installed: {
      text: 'The TabSense helper app is not installed for this browser.',
      fix: 'Run {installCommand} in the TabSense folder, then try again.',
      command: 'installCommand',
    },
    host_forbidden: {
      text: 'The TabSense helper app is installed, but not for this copy of the extension.',
      fix: 'Run {installCommand} in the TabSense folder again, then try again.',
      command: 'installCommand',
    },
    host_failed_to_start: {
      text: 'The TabSense helper app could not start.',
      fix: 'Run {checkCommand} in the TabSense folder to see what is wrong.',
      command: 'checkCommand',
    },
    host_disconnected: {
      text: 'The TabSense helper app stopped while working on this picture.',
      fix: 'Try again: TabSense restarts it by itself.',
    },
    ws_unavailable: {
      text: 'TabSense could not reach its helper app on port {port}.',
      fix: 'Start it with {serveCommand}, check the port and token in TabSense options, or switch back to the built-in connection.',
      command: 'serveCommand',
    },
    timeout: {
      text: 'The TabSense helper app took too long to answer.',
      fix: 'Try again; if it keeps happening, run {checkCommand}.',
      command: 'checkCommand',
    },
    fetch_failed: {
      text: 'TabSense could not download this picture.',
      fix: 'Reload the page and try again.',
    },
    not_an_image: {
      text: 'This file is not a picture TabSense can read.',
    },
    image_truncated: {
      text: 'This picture file is cut off, so TabSense cannot read it.',
    },
    image_too_large: {
      text: 'This picture is too large for TabSense to read.',
    },
    unsupported_image: {
      text: 'TabSense cannot read this kind of picture yet.',
    },
    message_too_large: {
      text: 'This picture is too large to send to the TabSense helper app.',
    },
    response_too_large: {
      text: 'The TabSense helper app sent an answer too large to deliver.',
      fix: 'Try again; if it keeps happening, run {checkCommand}.',
      command: 'checkCommand',
    },
    model_missing: {
      text: 'The image model has not been downloaded yet.',
      fix: 'Run {fetchModelsCommand}, then try again.',
      command: 'fetchModelsCommand',
    },
    model_corrupt: {
      text: 'The image model on this computer is damaged.',
      fix: 'Run {fetchModelsCommand} to replace it, then try again.',
      command: 'fetchModelsCommand',
    },
    model_not_found: {
      text: 'The TabSense helper app does not have the model this extension asked for.',
      fix: 'Update the helper app: run {installCommand} in an up-to-date TabSense folder.',
      command: 'installCommand',
    },
    model_not_blessed: {
      text: 'The chosen model has not passed TabSense’s checks, so the helper app will not use it.',
    },
    registry_invalid: {
      text: 'The list of models on this computer is damaged.',
      fix: 'Run {checkCommand} to see what is wrong.',
      command: 'checkCommand',
    },
    busy: {
      text: 'The TabSense helper app is busy with other pictures.',
      fix: 'Try again in a moment.',
    },
    protocol_mismatch: {
      text: 'TabSense and its helper app did not understand each other.',
      fix: 'Update both to the same version, then run {installCommand}.',
      command: 'installCommand',
    },
    bad_audio: {
      text: 'The TabSense helper app could not read the sound it was sent.',
      fix: 'Start listening again; if it keeps happening, update TabSense and run {installCommand}.',
      command: 'installCommand',
    },
    unsupported_audio: {
      text: 'The TabSense helper app cannot use the sound format of this microphone.',
      fix: 'Choose another microphone in the browser’s settings, then start listening again.',
    },
    audio_too_long: {
      text: 'TabSense sent the helper app too much sound at once.',
      fix: 'Start listening again; if it keeps happening, update TabSense and run {installCommand}.',
      command: 'installCommand',
    },
    rate_limited: {
      text: 'TabSense sent its helper app too many requests in a short time.',
      fix: 'Wait a moment, then try again.',
    },
    cannot_draw: {
      text: 'TabSense cannot show its answer on this page.',
    },
    internal_error: {
      text: 'Something went wrong inside the TabSense helper app.',
      fix: 'Try again; if it keeps happening, run {checkCommand}.',
      command: 'checkCommand',
    },
    unknown: {
      text: 'Something went wrong, so TabSense could not classify this picture.',
      fix: 'Try again; if it keeps happening, run {checkCommand}.',
      command: 'checkCommand',
    },
  },

  // Voice commands: sentences that replace the picture wording above, and microphone failures.
  voiceErrors: {
    model_not_found: {
      text: 'The TabSense helper app has no voice command model, so TabSense cannot listen.',
      fix: 'Update TabSense, then run {installCommand} in its folder.',
      command: 'installCommand',
    },
    model_missing: {
      text: 'The voice command model is not installed.',
      fix: 'Run {fetchModelsCommand}, then start listening again.',
      command: 'fetchModelsCommand',
    },
    model_corrupt: {
      text: 'The voice command model on this computer is damaged.',
      fix: 'Run {fetchModelsCommand} to replace it, then start listening again.',
      command: 'fetchModelsCommand',
    },
    model_not_blessed: {
      text: 'The voice command model has not passed TabSense’s checks, so the helper app will not use it unless you turn on “Use the voice model even though it has not passed validation” in TabSense options.',
      fix: 'Turn that option on to try it anyway (it may miss commands or switch tabs on its own), or update TabSense and run {installCommand} in its folder.',
      command: 'installCommand',
    },
    host_disconnected: {
      text: 'The TabSense helper app stopped while listening.',
      fix: 'Start listening again: TabSense restarts it by itself.',
    },
    timeout: {
      text: 'The TabSense helper app stopped answering while listening.',
      fix: 'Start listening again; if it keeps happening, run {checkCommand}.',
      command: 'checkCommand',
    },
    microphone_denied: {
      text: 'TabSense may not use the microphone.',
      fix: 'Allow it on the page TabSense opened (or in the browser’s site settings), then start listening again.',
    },
    microphone_missing: {
      text: 'No microphone was found.',
      fix: 'Connect a microphone, then start listening again.',
    },
    microphone_busy: {
      text: 'The microphone could not be opened; another program may be using it.',
      fix: 'Close the other program, then start listening again.',
    },
    microphone_ended: {
      text: 'The microphone stopped, so TabSense stopped listening.',
      fix: 'Check that it is still connected, then start listening again.',
    },
    microphone_failed: {
      text: 'TabSense could not start the microphone.',
      fix: 'Start listening again; if it keeps happening, restart the browser.',
    },
    unknown: {
      text: 'Something went wrong, so TabSense stopped listening.',
      fix: 'Start listening again; if it keeps happening, run {checkCommand}.',
      command: 'checkCommand',
    },
  },

  // Extra detail for a failure, shown under the sentence.
  detailHttpStatus: 'The server answered with status {status}.',
  detailNetwork: 'The server could not be reached.',
  detailFetchTimeout: 'The download took longer than {seconds} seconds.',
  detailBlobGone: 'The page no longer holds this picture.',
});

// Fills {name} placeholders; unknown names stay visible so mistakes show up in review.
globalThis.formatString = (template, values = {}) =>
  template.replace(/\{(\w+)\}/g, (match, name) => (name in values ? String(values[name]) : match));
