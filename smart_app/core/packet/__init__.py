"""The prior-authorization packet: one pure data model (`model.build_packet`) rendered three ways — the reviewer's
PDF (`render.packet_pdf`), the Da Vinci PAS 2.2.1 request Bundle (`pas`) and the DTR QuestionnaireResponse
(`dtr`). Pure: no I/O; `workflow.packet` fetches what the EHR holds and writes the zip."""
